"""``agnt5 projections``: status and rebuild of the read model."""

from __future__ import annotations

import time

import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, note, services
from agnt5_evals.projections.catchup import position

app = typer.Typer(help="The read model built from the event log.", no_args_is_help=True)


@app.command("status")
def status(fmt: FormatOption = Format.table) -> None:
    """Show the log head and the read model's position."""
    with services(catch_up=False) as svc:
        head = svc.app.recorder.max_notification_id() or 0
        row = {"store": svc.settings.store, "log_position": head, "view_position": position(svc.app, svc.view)}
        emit(row, fmt, list(row))


@app.command("rebuild")
def rebuild(fmt: FormatOption = Format.table) -> None:
    """Drop the read model and rebuild it from the whole event log."""
    with services(catch_up=False) as svc:
        started = time.perf_counter()
        reached = svc.rebuild()
        row = {"view_position": reached, "seconds": round(time.perf_counter() - started, 3)}
        if fmt is Format.table:
            note(f"Rebuilt the read model up to log position {reached} in {row['seconds']} s")
        else:
            emit(row, fmt)
