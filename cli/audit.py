"""``agnt5 audit``: the event log itself, in order, for people and for tools."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
import typer

from agnt5_evals.cli.common import Format, FormatOption, dumps, emit, note, services
from agnt5_evals.cli.gateway import gateway
from agnt5_evals.cli.refs import opt_ref, ref
from agnt5_evals.domain.errors import EXIT_AUDIT_FAILED, Invalid
from agnt5_evals.services.audit import AuditFilter
from agnt5_evals.services.invariants import check

app = typer.Typer(
    help="Audit the event log: every recorded event in order, its digests (verify), the store's invariants (check).",
    no_args_is_help=True,
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
    with gateway() as gw:
        refs = {"run": opt_ref(gw, "run", run_id, "--run-id"),
                "experiment": opt_ref(gw, "experiment", experiment_id, "--experiment-id"),
                "dataset": opt_ref(gw, "dataset", dataset_id, "--dataset-id")}  # fmt: skip
        run, experiment, dataset = (UUID(value) if value else None for value in refs.values())
        spec = AuditFilter(run_id=run, experiment_id=experiment, dataset_id=dataset, after=after, limit=limit)
        if fmt is Format.jsonl:  # streamed: a long log is never held whole
            for event in gw.audit_events(spec):
                typer.echo(orjson.dumps(event).decode())
            return
        emit(list(gw.audit_events(spec)), fmt, COLUMNS)


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
        raise typer.Exit(EXIT_AUDIT_FAILED)


@app.command("verify")
def audit_verify(
    run_id: Annotated[
        str | None, typer.Argument(help="The run to verify (with its rescores and dataset version).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Verify the whole log: every run, rescore and version.")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Recompute every digest from the log; exit 5 naming the first event that does not match.

    Checks each run's hash chain (its start, each chunk against the previous link and its items, its completion
    against what ran and the results), each rescore's, each dataset version's content digest, and that no event is
    missing. Runs recorded before hash chains are listed as unchained.
    """
    if (run_id is None) == (not all_):
        raise Invalid("give a run id or --all (not both)", field="run_id")
    with gateway() as gw:
        report = gw.verify(ref(gw, "run", run_id, "run_id") if run_id else None)
    if fmt is Format.table:
        _print_verification(report)
    else:
        typer.echo(dumps(report))
    if not report["ok"]:
        raise typer.Exit(EXIT_AUDIT_FAILED)


def _print_verification(report: dict[str, Any]) -> None:
    checked = ", ".join(f"{count} {what.replace('_', ' ')}" for what, count in report["checked"].items()) or "nothing"
    typer.echo(f"Checked {report['scope']}: {checked}.")
    for entry in report["unchained"]:
        typer.echo(f"Unchained {entry['kind'].replace('_', ' ')} {entry['id']}: {entry['why']}.")
    for aggregate, digest in report["digests"].items():
        typer.echo(f"Digest of {aggregate}: {digest}")
    mismatch = report["mismatch"]
    if mismatch is None:
        typer.echo("OK: every digest matches.")
        return
    typer.echo(
        f"MISMATCH at log position {mismatch['position']}: {mismatch['topic']} of {mismatch['originator_id']} "
        f"(version {mismatch['originator_version']}): {mismatch['problem']}.",
        err=True,
    )
