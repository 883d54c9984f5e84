"""The HTML export of a run: one self-contained page (inline CSS and JavaScript, no external URL) with the summary
and one row per run item, which a person can filter and sort without a server.

The page is a Jinja2 template (``adapters/templates/run_report.html.j2``, shipped as package data) rendered with
autoescaping on: every value of the run (inputs, outputs, names) is text in the page, never markup or script.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from agnt5_evals.domain.exports import RunExport, text_of, verdict_word

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def _env() -> jinja2.Environment:
    """The templates' environment, made on the first export (commands that export nothing skip jinja2's import)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True
    )


def pretty(value: Any) -> str:
    """A value for a cell: text as it is, anything else as indented JSON."""
    if value is None or isinstance(value, str):
        return text_of(value)
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _row(export: RunExport, record: Mapping[str, Any]) -> dict[str, Any]:
    scores = [
        {
            "scorer": key,
            "score": record[f"{key}.score"],
            "passed": record[f"{key}.passed"],
            "label": text_of(record[f"{key}.label"]),
            "explanation": text_of(record[f"{key}.explanation"]),
        }
        for key in export.scorers
    ]
    texts = {"input_text": pretty(record["input"]), "expected_text": pretty(record["expected_output"]),
             "output_text": pretty(record["output"]), "error_text": text_of(record["error"])}  # fmt: skip
    return {**record, **texts, "scores": scores}


def to_html(export: RunExport) -> bytes:
    """The page, UTF-8."""
    template = _env().get_template("run_report.html.j2")
    page = template.render(
        export=export,
        summary=export.summary,
        verdict=verdict_word(export.summary),
        rows=[_row(export, record) for record in export.records],
        statuses=sorted({record["status"] for record in export.records}),
    )
    return page.encode()
