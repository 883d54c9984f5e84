"""``agnt5 scores``: per-item scores of a run, the evidence behind one score, and human annotations."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agnt5_evals.cli.common import (
    Format,
    FormatOption,
    cell,
    emit,
    emit_rows,
    json_option,
    print_created,
    table,
    uuid_arg,
)
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
        emit_rows(gw.scores_stream(rid, iid, scorer, resc), fmt, COLUMNS)  # a page at a time: any run's size


@app.command("evidence")
def evidence_(
    score_id: str,
    include: Annotated[
        str, typer.Option("--include", help="Comma-separated: scorer_input,scorer_output,evidence.")
    ] = ",".join(EVIDENCE_PARTS),
    fmt: Annotated[
        Format, typer.Option("--format", help="json (default) or jsonl for scripts; table: excerpts for people.")
    ] = Format.json,
) -> None:
    """Show what a scorer saw, what it returned, and its evidence."""
    with gateway() as gw:
        result = gw.score_evidence(str(uuid_arg(score_id, "SCORE_ID")), include)
    emit(result, fmt, render=_evidence_table)


EXCERPT = 120  # characters of a value a table cell shows


def _excerpt(value: Any) -> str:
    text = cell(value)
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _rows(part: str, values: Any, keys: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """``part, field, value`` rows of one part: the given keys it has (in that order), else all of its keys."""
    given = values if isinstance(values, dict) else {} if values is None else {"value": values}
    return [{"part": part, "field": key, "value": _excerpt(given[key])} for key in keys or given if key in given]


def _evidence_table(result: dict[str, Any]) -> None:
    """One row per field of each part: what the scorer saw (excerpts), what it returned, its evidence keys."""
    seen = result.get("scorer_input")
    rows = _rows("scorer_input", seen, ("input", "expected_output", "output", "config"))
    if isinstance(seen, dict) and "events" in seen:
        rows.append({"part": "scorer_input", "field": "events", "value": f"{len(seen['events'] or [])} event(s)"})
    rows += _rows("scorer_output", result.get("scorer_output"), ("score", "passed", "errored", "label", "explanation",
                                                                 "metadata"))  # fmt: skip
    rows += _rows("evidence", result.get("evidence"))
    title = f"score {result['id']}: {result['scorer_key']} on run item {result['run_item_id']}"
    table(rows, ["part", "field", "value"], title)


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
    body = {"name": name, "label": label, "score": score, "explanation": explanation, "metadata": meta}
    with gateway() as gw:
        row = gw.annotate(ref(gw, "run", run_id, "RUN_ID"), iid, body)
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
