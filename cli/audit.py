"""``agnt5 audit``: the event log itself, in order, for people and for tools."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, note, services, uuid_arg
from agnt5_evals.domain.errors import EXIT_INVARIANT
from agnt5_evals.services.audit import AuditFilter, events
from agnt5_evals.services.invariants import check

app = typer.Typer(
    help="Audit the event log: every recorded event, in order; check the store's invariants.", no_args_is_help=True
)
COLUMNS = ["position", "timestamp", "topic", "originator_id", "originator_version"]


@app.command("events")
def audit_events(
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Only this run's events (chunks, rescores ...).")
    ] = None,
    experiment_id: Annotated[str | None, typer.Option("--experiment-id", help="Only this experiment's.")] = None,
    dataset_id: Annotated[str | None, typer.Option("--dataset-id", help="Only this dataset's.")] = None,
    after: Annotated[int, typer.Option("--after", help="Only events after this log position.")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many events.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Print the log in order: position, time, topic, aggregate id and version, and (json/jsonl) the payload."""
    spec = AuditFilter(
        run_id=uuid_arg(run_id, "--run-id") if run_id else None,
        experiment_id=uuid_arg(experiment_id, "--experiment-id") if experiment_id else None,
        dataset_id=uuid_arg(dataset_id, "--dataset-id") if dataset_id else None,
        after=after,
        limit=limit,
    )
    with services(catch_up=False) as svc:
        if fmt is Format.jsonl:  # streamed: a long log is never held whole
            for event in events(svc, spec):
                typer.echo(orjson.dumps(event).decode())
            return
        emit(list(events(svc, spec)), fmt, COLUMNS)


@app.command("check")
def audit_check(fmt: FormatOption = Format.table) -> None:
    """Check the store's invariants from the log and the read model directly; exit 5 naming the violated ones.

    Every dataset item once per version, every run item recorded once, one score per scorer, counters equal to
    rows, and the read model equal to a fresh rebuild (built in a scratch target, never the live tables). The log
    is checked up to the read model's position (`projections catch-up` first to check all of it).
    """
    with services() as svc:
        report = check(svc)
    result = report.as_dict()
    if fmt is Format.table:
        rows = [{**row, "details": "; ".join(row["details"])} for row in result["invariants"]]
        emit(rows, fmt, ["invariant", "holds", "violations", "details"])
        checked = ", ".join(f"{n} {name}" for name, n in result["checked"].items())
        note(f"checked the log up to position {report.view_position} of {report.log_position}: {checked}")
    else:
        emit(result, fmt)
    if not report.ok:
        note(f"error: violated: {', '.join(report.violated)}")
        raise typer.Exit(EXIT_INVARIANT)
