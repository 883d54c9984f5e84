"""The Studio's reads of an item page and of a comparison: small, indexed queries only.

- An item's neighbours in its run (the previous and next position): two single-row lookups on the
  ``(run_id, position)`` index.
- Two runs' items side by side, one page at a time (``paired_page``): the base run's items in position order from a
  keyset cursor, each joined with the candidate run's item of the same dataset item and repetition (found by the
  ``(run_id, dataset_item_id, repetition, ...)`` index where the read model has one). When both runs
  ran the same dataset version with the same repetitions, an item's position is the same in both (position = item
  index x repetitions + repetition, over the version's fixed order), so the join also matches positions and uses the
  ``(run_id, position)`` index: a page costs its own rows whatever the runs' size.
- The pickers' lists: experiments and one experiment's runs (ids and names only, newest first, capped).

Callers check the run (or experiment) is of the current project first (``queries.run``): these read its children.
"""

from __future__ import annotations

from typing import Any

import orjson

from agnt5_evals.projections import queries
from agnt5_evals.projections.views import EvalsView, Row

PAGE = 50
MAX_PAGE = 200
EXCERPT = 400  # characters of an output (its stored JSON text) in a paired row
PICK_LIMIT = 200


def neighbours(view: EvalsView, run_id: str, position: int) -> tuple[str | None, str | None]:
    """The ids of the run items just before and just after ``position`` in the run (None at either end)."""
    before = view.query(
        "SELECT id FROM {p}run_items WHERE run_id = ? AND position < ? ORDER BY position DESC LIMIT 1",
        (run_id, position),
    )
    after = view.query(
        "SELECT id FROM {p}run_items WHERE run_id = ? AND position > ? ORDER BY position LIMIT 1", (run_id, position)
    )
    return (before[0]["id"] if before else None), (after[0]["id"] if after else None)


def item_annotations(view: EvalsView, run_id: str, run_item_id: str) -> list[Row]:
    """The annotations of one run item, oldest first (as ``GET /runs/{id}/annotations?run_item_id=``)."""
    return queries.run_annotations(view, run_id, run_item_id)


def aligned(base: Row, other: Row) -> bool:
    """Whether two runs' items of one dataset item and repetition have the same position in both runs."""
    reps = [int(run["spec"].get("config", {}).get("repetitions", 1) or 1) for run in (base, other)]
    return (
        base["dataset_version_id"] == other["dataset_version_id"]
        and reps[0] == reps[1]
        and base["total"] == other["total"]
    )


def paired_page(
    view: EvalsView,
    base: Row,
    other: Row,
    after: int | None = None,
    before: int | None = None,
    limit: int = PAGE,
) -> dict[str, Any]:
    """One page of the base run's items in position order, each with the candidate run's item of the same dataset
    item and repetition beside it (none when the candidate lacks it): after the base position ``after``, or the
    page ending before ``before`` (the previous page).

    The page of base items is taken first (a subquery with its LIMIT), then joined: the join reads the page's
    pairs only, whatever the planner thinks of the join's selectivity (PostgreSQL would otherwise hash both runs).
    Each row has both items' id, status, error and the first characters of their output (``base_``/``compare_``
    prefixes); ``before``/``after`` are the cursors of the previous and next pages (None: no page there)."""
    limit = max(1, min(limit, MAX_PAGE))
    backwards = before is not None
    where, order = ("position < ?", "DESC") if backwards else ("position > ?", "")
    cursor = before if backwards else (-1 if after is None else after)
    on = "b.dataset_item_id = a.dataset_item_id AND b.repetition = a.repetition"
    if aligned(base, other):
        on = "b.position = a.position AND " + on
    sql = (
        "SELECT a.position AS position, a.dataset_item_id AS dataset_item_id, a.repetition AS repetition, "
        "a.id AS base_id, a.status AS base_status, a.error AS base_error, a.output AS base_output, "
        f"b.id AS compare_id, b.status AS compare_status, substr(b.error, 1, {EXCERPT}) AS compare_error, "
        f"substr(b.output, 1, {EXCERPT + 1}) AS compare_output "
        "FROM (SELECT position, dataset_item_id, repetition, id, status, "
        f"substr(error, 1, {EXCERPT}) AS error, substr(output, 1, {EXCERPT + 1}) AS output "
        f"FROM {{p}}run_items WHERE run_id = ? AND {where} ORDER BY position {order} LIMIT ?) a "
        f"LEFT JOIN {{p}}run_items b ON b.run_id = ? AND {on} ORDER BY a.position {order}"
    )
    rows = view.query(sql, (base["id"], cursor, limit + 1, other["id"]))
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    for row in rows:
        for side in ("base", "compare"):
            row[f"{side}_output"] = _excerpt(row[f"{side}_output"])
    first, last = (rows[0]["position"], rows[-1]["position"]) if rows else (None, None)
    return {
        "rows": rows,
        "before": first if rows and (more if backwards else after is not None) else None,
        "after": last if rows and (backwards or more) else None,
    }


def _excerpt(stored: Any) -> str:
    """An output's stored JSON text, shown as a string when it is one (and whole), else as its JSON text, cut."""
    if stored is None:
        return ""
    text = str(stored)
    if len(text) > EXCERPT:
        return text[:EXCERPT] + "…"
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return value if isinstance(value, str) else text


def experiments(view: EvalsView) -> list[Row]:
    """The current project's active experiments to pick from: id and name, newest first (at most 200)."""
    where, scope = queries._in_project()
    sql = "SELECT id, name, created_at FROM {p}experiments WHERE archived = 0" + where
    return view.query(sql + " ORDER BY created_at DESC, id LIMIT ?", (*scope, PICK_LIMIT))


def experiment_runs(view: EvalsView, experiment_id: str) -> list[Row]:
    """An experiment's runs to pick from: id, name, status, counts, newest first (at most 200)."""
    queries.experiment(view, experiment_id)
    sql = (
        "SELECT id, name, status, total, passed, failed, errored, created_at FROM {p}runs WHERE experiment_id = ? "
        "ORDER BY created_at DESC, id LIMIT ?"
    )
    return view.query(sql, (experiment_id, PICK_LIMIT))
