"""``reports export`` and ``GET /runs/{id}/export``: a run's export file, the same bytes on every edge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.html_report import to_html
from agnt5_evals.domain import exports
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.domain.export_junit import to_junit
from agnt5_evals.domain.export_markdown import to_markdown
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.reports import EXPORT_COLUMNS, run_summary
from agnt5_evals.projections import queries
from agnt5_evals.services import compare, gates


def run_export(svc: Services, run_id: str) -> exports.RunExport:
    """The export projection of a run, read in a few queries (the run, its scorers, its items and their scores, the
    dataset version's inputs and expected outputs), whatever its size."""
    run = queries.run(svc.view, run_id)
    experiment = queries.experiment(svc.view, run["experiment_id"])
    summary = run_summary(run, queries.run_scorers(svc.view, run_id), gates.extra_rules(svc, run))
    items = queries.export_run_items(svc.view, run_id)
    values = queries.version_values(svc.view, run["dataset_version_id"])
    return exports.project(experiment["name"], run, summary, items, values)


def export_file(
    svc: Services, run_id: str, fmt: str = "csv", layout: str = "items", baseline: str | None = None
) -> tuple[bytes, str]:
    """A run's export in ``fmt`` (``exports.MEDIA_TYPES``) and ``layout``, and its media type; ``baseline`` (a
    run id, markdown only) adds the movement against that run."""
    stream, media = stream_export(svc, run_id, fmt, layout, baseline)
    return b"".join(stream), media


PAGE = 1000  # positions of a run read at a time by ``stream_export``


def stream_export(
    svc: Services, run_id: str, fmt: str = "csv", layout: str = "items", baseline: str | None = None
) -> tuple[Iterator[bytes], str]:
    """``export_file``'s bytes as they are made, and its media type: a tabular format (csv, jsonl, json) reads and
    writes the run a page of positions at a time, so memory stays bounded whatever the run's size; the documents
    (junit, markdown, html) are made whole. Everything that can be refused is refused before this returns."""
    exports.check_options(fmt, layout, baseline)
    if fmt not in exports.TABULAR:
        base_id = str(parse_uuid(baseline, "baseline")) if baseline else None
        export = run_export(svc, run_id)
        comparison = _compare(svc, base_id, run_id) if base_id else None
        return iter([render(export, fmt, layout, comparison)]), exports.MEDIA_TYPES[fmt]
    run = queries.run(svc.view, run_id)
    experiment = queries.experiment(svc.view, run["experiment_id"])
    summary = run_summary(run, queries.run_scorers(svc.view, run_id), gates.extra_rules(svc, run))
    scored = [{"scores": [{"scorer_key": key} for key in queries.scored_keys(svc.view, run_id)]}]
    scorers = exports.scorer_order(summary, scored)
    columns = list(EXPORT_COLUMNS) if layout == "scores" else exports.item_columns(scorers)

    def pages() -> Iterator[list[dict[str, Any]]]:
        for start in range(0, int(run["total"]), PAGE):
            items = queries.export_run_items(svc.view, run_id, (start, start + PAGE))
            ids = [item["dataset_item_id"] for item in items]
            values = queries.dataset_items_by_id(svc.view, run["dataset_version_id"], ids).values()
            page = exports.project(experiment["name"], run, summary, items, values, scorers)
            yield exports.layout_rows(page, layout)[1]

    return exports.stream_tabular(fmt, columns, pages()), exports.MEDIA_TYPES[fmt]


def _compare(svc: Services, base_id: str, run_id: str) -> dict[str, Any]:
    try:
        queries.run(svc.view, base_id)
    except NotFound as exc:
        raise NotFound(exc.message, field="baseline") from None
    return compare.compare_runs(svc, base_id, run_id)


def render(export: exports.RunExport, fmt: str, layout: str, comparison: dict[str, Any] | None = None) -> bytes:
    """The file of one format (the options already checked)."""
    if fmt == "junit":
        return to_junit(export)
    if fmt == "markdown":
        return to_markdown(export, comparison)
    if fmt == "html":
        return to_html(export)
    columns, records = exports.layout_rows(export, layout)
    writer = {"csv": exports.to_csv, "jsonl": exports.to_jsonl, "json": exports.to_json}[fmt]
    return writer(columns, records)
