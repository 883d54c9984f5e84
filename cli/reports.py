"""``agnt5 reports``: summaries, failures, the CI gate, waiting, and exports of a run."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agnt5_evals.cli.common import Format, FormatOption, duration, emit, emit_rows, note, printable, write_file
from agnt5_evals.cli.gateway import gateway, read_gateway
from agnt5_evals.cli.readable import DEFAULT_LIMIT, item_block
from agnt5_evals.cli.refs import ref
from agnt5_evals.cli.render import explain, run_exit_code, show_summary, wait_and_report
from agnt5_evals.domain.errors import EXIT_TIMEOUT
from agnt5_evals.domain.exports import check_options
from agnt5_evals.domain.reports import excerpt

app = typer.Typer(help="Run reports for people and for CI.", no_args_is_help=True)


@app.command("summary")
def summary(run_id: str, fmt: FormatOption = Format.table) -> None:
    """Same as ``experiments runs show``."""
    with gateway() as gw:
        show_summary(gw.summary(ref(gw, "run", run_id, "RUN_ID")), fmt)


@app.command("failures")
def failures(
    run_id: str,
    scorer: Annotated[str, typer.Option("--scorer", help="Only the items this scorer failed.")] = "",
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help=f"At most N items (table: {DEFAULT_LIMIT}; json: all).")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Failed and errored run items: each with its input, expected output and output (or error), the scorers that
    failed it with their labels and explanations, and the stack trace of a component that raised. The table shows
    one-line excerpts; --format json has the full values."""
    shown = DEFAULT_LIMIT if limit is None and fmt is Format.table else limit
    with gateway() as gw:
        rid = ref(gw, "run", run_id, "RUN_ID")
        if shown is None:  # every failure, printed as it is read (a page at a time: any run's size)
            emit_rows(map(_with_failed_scorers, gw.failures_stream(rid, scorer)), fmt)
            return
        items = gw.failures(rid, scorer, shown + 1)  # one more: is there more?
    more_exist = len(items) > shown
    items = [_with_failed_scorers(item) for item in items[:shown]]
    emit(items, fmt, render=lambda rows: _failures_blocks(rid, rows, more_exist))


def _with_failed_scorers(item: dict[str, Any]) -> dict[str, Any]:
    item["failed_scorers"] = ", ".join(
        f"{s['scorer']}={s['score']:.2f}" + (f" ({s['label']})" if s["label"] else "") for s in item["failing_scorers"]
    )
    return item


def _failures_blocks(run_id: str, items: list[dict[str, Any]], more_exist: bool) -> None:
    """Each item as a block of excerpts, then its stack trace when the component raised (too long to cut)."""
    typer.echo(f"run {run_id}: " + (f"the first {len(items)} failed or errored items" if more_exist
                                     else f"{len(items)} failed or errored item(s)"))  # fmt: skip
    for item in items:
        title = (f"#{item['position']} {item['dataset_item_id']} (repetition {item['repetition']})  "
                 f"{item['status']}  run item {item['id']}")  # fmt: skip
        answer = ("error", item["error"]) if item["error"] is not None else ("output", item["output"])
        item_block(title, item, [answer])
        if item.get("stack"):
            typer.echo(f"    stack trace:\n{printable(item['stack'])}")
    if more_exist:
        typer.echo("  ... and more (--limit N, or --format json for all)")


@app.command("flaky")
def flaky(
    experiment_id: str,
    last: Annotated[int, typer.Option("--last", min=2, max=100, help="How many recent completed runs to look at.")] = 5,
    fmt: FormatOption = Format.table,
) -> None:
    """The items whose verdict changed across an experiment's last N completed runs, with each run's verdict
    (P passed, F failed, E errored, M mixed repetitions, - absent; oldest run first)."""
    with gateway() as gw:
        report = gw.flaky(ref(gw, "experiment", experiment_id, "EXPERIMENT_ID"), last)
    if fmt is not Format.table:
        emit(report, fmt)
        return
    note(f"{len(report['items'])} flaky item(s) across {len(report['runs'])} completed run(s) of experiment "
         f"{report['experiment_id']}")  # fmt: skip
    rows = [{"dataset_item_id": i["dataset_item_id"], "history": "".join(_LETTER[h["verdict"]] for h in i["history"]),
             "changes": i["changes"], "input": excerpt(i["input"], 60)} for i in report["items"]]  # fmt: skip
    emit(rows, fmt, ["dataset_item_id", "history", "changes", "input"])


_LETTER = {"passed": "P", "failed": "F", "errored": "E", "mixed": "M", None: "-"}


@app.command("ci")
def ci(run_id: str, fmt: FormatOption = Format.table) -> None:
    """Print a run's gate verdict, each rule with its numbers, and exit with its code (see `agnt5 --help`)."""
    with read_gateway() as gw:  # the read model alone: nothing of the write side is imported or opened
        result = gw.summary(ref(gw, "run", run_id, "RUN_ID"))
    show_summary(result, fmt)
    if result["status"] == "running":
        note("no verdict yet: the run is still running")
        raise typer.Exit(EXIT_TIMEOUT)
    raise typer.Exit(explain(result, run_exit_code(result, True)))


@app.command("wait")
def wait(
    run_id: str,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="Give up after this long: seconds (90), or 90s, 15m, 1h30m.")
    ] = None,
    fail_on_gate: Annotated[
        bool,
        typer.Option("--fail-on-gate/--no-fail-on-gate", help="Exit 2 when the gate fails (--fail-on-gate=false)."),
    ] = True,
    fmt: FormatOption = Format.table,
) -> None:
    """Wait on a started run, then exit with the gate's code (the exit codes of `agnt5 --help`)."""
    seconds = duration(timeout)  # checked before anything is asked
    with gateway() as gw:
        raise typer.Exit(wait_and_report(gw, ref(gw, "run", run_id, "RUN_ID"), seconds, fail_on_gate, fmt))


@app.command("export")
def export(
    run_id: str,
    artifact_format: Annotated[
        str, typer.Option("--artifact-format", help="csv, jsonl, json, junit, markdown or html (docs/exports.md).")
    ] = "csv",
    layout: Annotated[
        str,
        typer.Option(
            "--layout", help="items: one row per run item; scores: one per (run item, scorer) (csv, jsonl, json)."
        ),
    ] = "items",
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="A run to compare with: pass-rate movement and flips (markdown).")
    ] = None,
    out_file: Annotated[str, typer.Option("--out-file", "-o", help="Output path; - for stdout.")] = "-",
) -> None:
    """Export a run's results: a table (csv, jsonl, json), JUnit XML, Markdown for a PR, or an HTML page."""
    check_options(artifact_format, layout, baseline)
    with gateway() as gw:
        rid = ref(gw, "run", run_id, "RUN_ID")
        base = ref(gw, "run", baseline, "--baseline") if baseline else None
        write_file(out_file, gw.export_stream(rid, artifact_format, layout, base))  # written as it is read
    if out_file != "-":
        note(f"Wrote {artifact_format} export of run {rid} to {out_file}")


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
