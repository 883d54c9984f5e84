"""``agnt5 scores``: per-item scores of a run, the evidence behind one score, and human annotations."""

from __future__ import annotations

from typing import Annotated

import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, json_option, print_created, uuid_arg
from agnt5_evals.cli.gateway import gateway
from agnt5_evals.cli.refs import ref
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.reports import EVIDENCE_PARTS

app = typer.Typer(help="Scores, their evidence, and human annotations.", no_args_is_help=True)

COLUMNS = ["id", "run_item_id", "scorer_key", "score", "passed", "errored", "label", "explanation"]


@app.command("list")
def list_(
    run_id: Annotated[str, typer.Option("--run-id", help="Scores of this run.")] = "",
    run_item_id: Annotated[str, typer.Option("--run-item-id", help="Scores of this run item.")] = "",
    scorer: Annotated[str, typer.Option("--scorer", help="Only this scorer (its key).")] = "",
    rescore_id: Annotated[
        str, typer.Option("--rescore-id", help="The scores a rescore recorded (current or not) instead.")
    ] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """List current scores, filtered by run, run item or scorer (or a rescore's scores with --rescore-id)."""
    if not run_id and not run_item_id and not rescore_id:
        raise Invalid("give --run-id, --run-item-id or --rescore-id")
    iid = str(uuid_arg(run_item_id, "--run-item-id")) if run_item_id else ""
    resc = str(uuid_arg(rescore_id, "--rescore-id")) if rescore_id else ""
    with gateway() as gw:
        rid = ref(gw, "run", run_id, "--run-id") if run_id else ""
        emit(gw.scores(rid, iid, scorer, resc), fmt, COLUMNS)


@app.command("evidence")
def evidence_(
    score_id: str,
    include: Annotated[
        str, typer.Option("--include", help="Comma-separated: scorer_input,scorer_output,evidence.")
    ] = ",".join(EVIDENCE_PARTS),
    fmt: Annotated[Format, typer.Option("--format")] = Format.json,
) -> None:
    """Show what a scorer saw, what it returned, and its evidence."""
    with gateway() as gw:
        result = gw.score_evidence(str(uuid_arg(score_id, "SCORE_ID")), include)
    emit(result, Format.jsonl if fmt is Format.jsonl else Format.json)


@app.command("annotate")
def annotate(
    run_id: str,
    run_item_id: str,
    name: Annotated[str, typer.Option("--name", help="What is judged, e.g. helpfulness.")],
    label: Annotated[str | None, typer.Option("--label", help="The human's label, e.g. pass or fail.")] = None,
    score: Annotated[float | None, typer.Option("--score", help="The human's score from 0 to 1.")] = None,
    explanation: Annotated[str | None, typer.Option("--explanation", help="Why.")] = None,
    metadata: Annotated[str | None, typer.Option("--metadata", help="JSON object, e.g. the annotator.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Record a human annotation on a run item (kept apart from scores; see reports agreement); prints its id."""
    iid = str(uuid_arg(run_item_id, "RUN_ITEM_ID"))
    meta = json_option(metadata, "--metadata")
    note = {"name": name, "label": label, "score": score, "explanation": explanation, "metadata": meta}
    with gateway() as gw:
        row = gw.annotate(ref(gw, "run", run_id, "RUN_ID"), iid, note)
        print_created(fmt, row, f"Annotated run item {iid} ({row['name']})")


@app.command("annotations")
def annotations_(
    run_id: Annotated[str, typer.Option("--run-id", help="Annotations of this run.")],
    run_item_id: Annotated[str, typer.Option("--run-item-id", help="Only this run item.")] = "",
    name: Annotated[str, typer.Option("--name", help="Only annotations of this name.")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """List a run's human annotations, oldest first."""
    iid = str(uuid_arg(run_item_id, "--run-item-id")) if run_item_id else ""
    with gateway() as gw:
        rows = gw.annotations(ref(gw, "run", run_id, "--run-id"), iid, name)
        emit(rows, fmt, ["id", "run_item_id", "name", "label", "score", "explanation", "created_at"])
