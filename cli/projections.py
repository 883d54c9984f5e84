"""``agnt5 projections``: status and rebuild of the read model."""

from __future__ import annotations

import time

import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, note, services

app = typer.Typer(help="The read model built from the event log.", no_args_is_help=True)


@app.command("status")
def status(fmt: FormatOption = Format.table) -> None:
    """Show the log head, the read model's position and how far it lags behind (reads only)."""
    with services() as svc:
        head, view = svc.lag()
        row = {"store": svc.settings.store, "log_position": head, "view_position": view, "lag": head - view}
        emit(row, fmt, list(row))


@app.command("catch-up")
def catch_up(fmt: FormatOption = Format.table) -> None:
    """Apply the log's new events to the read model (after a killed process left some, or an upgrade)."""
    with services() as svc:
        before = svc.lag()[1]
        reached = svc.catch_up()
        row = {"view_position": reached, "previous_position": before}
        if fmt is Format.table:
            note(f"The read model went from log position {before} to {reached}")
        else:
            emit(row, fmt)


@app.command("rebuild")
def rebuild(fmt: FormatOption = Format.table) -> None:
    """Rebuild the read model from the whole log beside the live one, then switch to it (no downtime)."""
    with services() as svc:
        started = time.perf_counter()
        reached = svc.rebuild()
        row = {"view_position": reached, "seconds": round(time.perf_counter() - started, 3)}
        if fmt is Format.table:
            note(f"Rebuilt the read model up to log position {reached} in {row['seconds']} s")
        else:
            emit(row, fmt)
