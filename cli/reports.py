"""``agnt5 reports``: summaries, failures, the CI gate, waiting, and exports of a run."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, note, printable, table, uuid_arg, write_csv
from agnt5_evals.cli.gateway import gateway
from agnt5_evals.cli.refs import ref
from agnt5_evals.cli.render import run_exit_code, show_summary, wait_and_report
from agnt5_evals.domain.errors import EXIT_TIMEOUT, Invalid
from agnt5_evals.domain.reports import EXPORT_COLUMNS

app = typer.Typer(help="Run reports for people and for CI.", no_args_is_help=True)

FAILURE_COLUMNS = ["id", "position", "dataset_item_id", "status", "error", "failed_scorers"]


@app.command("summary")
def summary(run_id: str, fmt: FormatOption = Format.table) -> None:
    """Same as ``experiments runs show``."""
    with gateway() as gw:
        show_summary(gw.summary(ref(gw, "run", run_id, "RUN_ID")), fmt)


@app.command("failures")
def failures(run_id: str, fmt: FormatOption = Format.table) -> None:
    """Failed and errored run items only, with the scorers that failed them (and the stack trace of a component
    that raised)."""
    with gateway() as gw:
        items = gw.failures(str(uuid_arg(run_id, "RUN_ID")))
    for item in items:
        item["failed_scorers"] = ", ".join(
            f"{s['scorer_key']}={s['score']:.2f}" + (f" ({s['label']})" if s["label"] else "")
            for s in item["scores"]
            if not s["passed"]
        )
    emit(items, fmt, FAILURE_COLUMNS, render=_failures_table)


def _failures_table(items: list[dict[str, Any]]) -> None:
    """The table, then each stack trace under its item's id (too long for a cell)."""
    table(items, FAILURE_COLUMNS)
    for item in items:
        if item.get("stack"):
            typer.echo(f"\n{item['id']} (position {item['position']}) stack trace:\n{printable(item['stack'])}")


@app.command("ci")
def ci(run_id: str, fmt: FormatOption = Format.table) -> None:
    """Print the gate verdict of a run and exit with its code (the exit codes of `agnt5 --help`)."""
    with gateway() as gw:
        result = gw.summary(ref(gw, "run", run_id, "RUN_ID"))
    show_summary(result, fmt)
    if result["status"] == "running":
        note("no verdict yet: the run is still running")
        raise typer.Exit(EXIT_TIMEOUT)
    raise typer.Exit(run_exit_code(result, True))


@app.command("wait")
def wait(
    run_id: str,
    timeout: Annotated[str | None, typer.Option("--timeout", help="Give up after this long (15m).")] = None,
    fail_on_gate: Annotated[
        bool,
        typer.Option("--fail-on-gate/--no-fail-on-gate", help="Exit 2 when the gate fails (--fail-on-gate=false)."),
    ] = True,
    fmt: FormatOption = Format.table,
) -> None:
    """Wait on a started run, then exit with the gate's code (the exit codes of `agnt5 --help`)."""
    with gateway() as gw:
        raise typer.Exit(wait_and_report(gw, ref(gw, "run", run_id, "RUN_ID"), timeout, fail_on_gate, fmt))


@app.command("export")
def export(
    run_id: str,
    artifact_format: Annotated[str, typer.Option("--artifact-format", help="csv or jsonl.")] = "csv",
    out_file: Annotated[str, typer.Option("--out-file", "-o", help="Output path; - for stdout.")] = "-",
) -> None:
    """Export per-item results: one row per (run item, scorer)."""
    if artifact_format not in ("csv", "jsonl"):
        raise Invalid(f"--artifact-format: must be csv or jsonl, got {artifact_format!r}")
    rid = str(uuid_arg(run_id, "RUN_ID"))
    with gateway() as gw:
        rows = gw.export_rows(rid)
    if artifact_format == "csv":
        write_csv(out_file, EXPORT_COLUMNS, rows)
    else:
        records = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows]
        if out_file == "-":
            emit(records, Format.jsonl)
        else:
            import orjson

            with open(out_file, "wb") as handle:
                handle.writelines(orjson.dumps(r) + b"\n" for r in records)
    if out_file != "-":
        note(f"Wrote {len(rows)} rows to {out_file}")


@app.command("agreement")
def agreement(
    run_id: str,
    name: Annotated[
        str, typer.Option("--name", help="Which annotations (needed when the run has several names).")
    ] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """How well each scorer agrees with the human annotations of a run: agreement (95% CI), Cohen's kappa."""
    with gateway() as gw:
        report = gw.agreement(ref(gw, "run", run_id, "RUN_ID"), name)
    if fmt is not Format.table:
        emit(report, fmt)
        return
    note(f"annotations {report['name']!r}: {report['annotated_items']} item(s), "
         f"{report['without_verdict']} without a pass/fail verdict")  # fmt: skip
    rows = [
        {
            "scorer": s["scorer"], "n": s["n"], "agreement": s["agreement"],
            "ci95": "{:.2f}-{:.2f}".format(*s["agreement_ci95"]), "kappa": s["kappa"],
            "pp/pf/fp/ff": "{both_pass}/{scorer_pass_human_fail}/{scorer_fail_human_pass}/{both_fail}".format(
                **s["confusion"]
            ),
        }
        for s in report["scorers"]
    ]  # fmt: skip
    emit(rows, fmt, ["scorer", "n", "agreement", "ci95", "kappa", "pp/pf/fp/ff"])
    note("pp/pf/fp/ff: scorer pass and human pass / scorer pass, human fail / scorer fail, human pass / both fail")
