"""Exports of a run: one projection of the read-model rows into records, and the plain-text formats made from them.

:func:`project` turns a run, its items with their scores and its dataset version's values into a
:class:`RunExport`; every format (CSV, JSON lines, JSON here; JUnit in ``export_junit``, Markdown in
``export_markdown``, HTML in ``adapters.html_report``) renders from it, so the formats cannot disagree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.jsonio import INDENT, array_end, array_item
from agnt5_evals.domain.reports import EXPORT_COLUMNS, export_rows, failure_stack

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "json": "application/json",
    "junit": "application/xml",
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
LAYOUTS = ("items", "scores")
TABULAR = ("csv", "jsonl", "json")  # the formats a layout applies to
ITEM_COLUMNS = [
    "experiment_name", "run_id", "run_name", "index", "run_item_id", "dataset_item_id", "repetition", "input",
    "expected_output", "output", "status", "error", "duration_ms", "tokens",
]  # fmt: skip
SCORER_FIELDS = ("score", "passed", "label", "explanation")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may read as a formula


@dataclass(frozen=True)
class RunExport:
    """What every export format shows of one run: its summary, its scorers in order, one record per run item
    and repetition (``ITEM_COLUMNS`` then ``<scorer>.<field>``), the per-(item, scorer) rows of the ``scores``
    layout, and the stack trace of each errored item that recorded one (by run item id)."""

    experiment_name: str
    summary: Mapping[str, Any]
    scorers: list[str]
    records: list[dict[str, Any]]
    score_records: list[dict[str, Any]] = field(default_factory=list)
    stacks: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """The columns of the ``items`` layout."""
        return item_columns(self.scorers)


def check_options(fmt: str, layout: str, baseline: str | None) -> None:
    """Refuse an unknown format or layout, a layout other than ``items`` for a per-item report, and a baseline
    for a format that does not show one, naming the field."""
    if fmt not in MEDIA_TYPES:
        raise Invalid(f"must be one of {', '.join(MEDIA_TYPES)}, got {fmt!r}", field="format")
    if layout not in LAYOUTS:
        raise Invalid(f"must be one of {', '.join(LAYOUTS)}, got {layout!r}", field="layout")
    if layout != "items" and fmt not in TABULAR:
        raise Invalid(f"the {layout} layout applies to {', '.join(TABULAR)} only, not {fmt}", field="layout")
    if baseline and fmt != "markdown":
        raise Invalid(f"a baseline is shown by the markdown format only, not {fmt}", field="baseline")


def item_columns(scorers: Iterable[str]) -> list[str]:
    """The ``items`` layout's columns: the item's own, then four per scorer in scorer order."""
    return [*ITEM_COLUMNS, *(f"{key}.{part}" for key in scorers for part in SCORER_FIELDS)]


def scorer_order(summary: Mapping[str, Any], items: Iterable[Mapping[str, Any]]) -> list[str]:
    """The run's scorers in scorer order (the summary's), then any other scored key in order of appearance."""
    keys = dict.fromkeys(str(s["scorer"]) for s in summary.get("scorers", []))
    for item in items:
        keys.update(dict.fromkeys(s["scorer_key"] for s in item["scores"] if s["scorer_key"] not in keys))
    return list(keys)


def project(
    experiment_name: str,
    run: Mapping[str, Any],
    summary: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    dataset_items: Iterable[Mapping[str, Any]],
    scorers: list[str] | None = None,
) -> RunExport:
    """The export of a run from its read-model rows: ``items`` are run items with ``scores`` (scorer order) and
    ``events``; ``dataset_items`` the version's items (``item_id``, ``input``, ``expected_output``). ``scorers``:
    the run's scorer order when ``items`` is one page of the run (else found from the items)."""
    scorers = scorer_order(summary, items) if scorers is None else scorers
    values = {row["item_id"]: row for row in dataset_items}
    head = {"experiment_name": experiment_name, "run_id": run["id"], "run_name": run["name"]}
    records = [_record(head, item, values.get(item["dataset_item_id"], {}), scorers) for item in items]
    stacks = {item["id"]: stack for item in items if (stack := failure_stack(item.get("events")))}
    scores = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in export_rows(experiment_name, run, items)]
    return RunExport(experiment_name, summary, scorers, records, scores, stacks)


def _record(
    head: dict[str, Any], item: Mapping[str, Any], value: Mapping[str, Any], scorers: list[str]
) -> dict[str, Any]:
    record = {
        **head, "index": item["position"], "run_item_id": item["id"], "dataset_item_id": item["dataset_item_id"],
        "repetition": item["repetition"], "input": value.get("input"), "expected_output": value.get("expected_output"),
        "output": item["output"], "status": item["status"], "error": item["error"],
        "duration_ms": item["duration_ms"], "tokens": item.get("tokens"),
    }  # fmt: skip
    by_key = {s["scorer_key"]: s for s in item["scores"]}
    for key in scorers:
        score = by_key.get(key)
        for part in SCORER_FIELDS:
            record[f"{key}.{part}"] = None if score is None else score[part]
    return record


def layout_rows(export: RunExport, layout: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and records of a tabular layout."""
    if layout == "scores":
        return list(EXPORT_COLUMNS), export.score_records
    return export.columns, export.records


def csv_cell(value: Any) -> Any:
    """A CSV cell: numbers and booleans as they are, None empty, other JSON values as compact JSON text; text
    beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so a spreadsheet
    shows it instead of evaluating it (formula injection)."""
    if value is None or isinstance(value, bool | int | float):
        return "" if value is None else value
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(columns: Sequence[str], records: Iterable[Mapping[str, Any]]) -> bytes:
    """A header row, then one row per record (``csv_cell`` values); UTF-8, CRLF line ends (RFC 4180)."""
    return b"".join(stream_tabular("csv", columns, [records]))


def to_jsonl(columns: Sequence[str], records: Iterable[Mapping[str, Any]]) -> bytes:
    """One JSON object per line, keys in column order, values as they are (not JSON text)."""
    return b"".join(stream_tabular("jsonl", columns, [records]))


def to_json(columns: Sequence[str], records: Iterable[Mapping[str, Any]]) -> bytes:
    """The records as one JSON array (the same objects as the JSON lines)."""
    return b"".join(stream_tabular("json", columns, [records]))


def stream_tabular(fmt: str, columns: Sequence[str], pages: Iterable[Iterable[Mapping[str, Any]]]) -> Iterator[bytes]:
    """A tabular format's bytes, a piece per page of records: the same bytes as one page of them all, written as
    the pages come (``to_csv``, ``to_jsonl`` and ``to_json`` are this over one page)."""
    if fmt == "csv":
        yield from _csv_pages(columns, pages)
    elif fmt == "jsonl":
        for page in pages:
            yield b"".join(orjson.dumps({c: r.get(c) for c in columns}) + b"\n" for r in page)
    else:  # an indented JSON array, element by element, as orjson.OPT_INDENT_2 writes the whole of it
        first = True
        for page in pages:
            pieces = []
            for record in page:
                pieces.append(array_item(orjson.dumps({c: record.get(c) for c in columns}, option=INDENT), first))
                first = False
            yield b"".join(pieces)
        yield array_end(first) + b"\n"


def _csv_pages(columns: Sequence[str], pages: Iterable[Iterable[Mapping[str, Any]]]) -> Iterator[bytes]:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([csv_cell(column) for column in columns])
    for page in pages:
        writer.writerows([csv_cell(record.get(column)) for column in columns] for record in page)
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()
    if out.tell():  # no page at all: the header alone
        yield out.getvalue().encode()


def text_of(value: Any) -> str:
    """A value as people read it: text as it is, None empty, anything else as compact JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def excerpt(value: Any, limit: int) -> str:
    """``text_of(value)`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    text = text_of(value)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "\u2026"


def verdict_word(summary: Mapping[str, Any]) -> str:
    """PASSED, FAILED or RUNNING: the gate's verdict as a heading says it."""
    if summary["status"] == "running":
        return "RUNNING"
    return "PASSED" if summary["passed"] else "FAILED"


def item_verdicts(record: Mapping[str, Any], scorers: Iterable[str]) -> list[tuple[str, Any, Any]]:
    """``(scorer, label, explanation)`` of each scorer that did not pass the item."""
    return [
        (key, record.get(f"{key}.label"), record.get(f"{key}.explanation"))
        for key in scorers
        if record.get(f"{key}.passed") is False
    ]
