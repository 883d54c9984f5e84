"""Two runs paired by (dataset item, repetition) in SQL, for ``services.compare``: counts, grouped differences and
the first flips, without reading every item of either run into Python.

Pairs are a join of the two runs' ``run_items`` on the (run, dataset item, repetition, status, position, id) index;
scores join on (run, position) through the covering index on ``scores``. Every join is on equalities that an index
answers, so a plan made without statistics (a view just rebuilt) is still linear in the pairs. Text keys sort
bytewise (Python's order for str: SQLite's default BINARY collation, PostgreSQL's "C").
"""

from __future__ import annotations

from typing import Any

from agnt5_evals.projections.queries import CHUNK, _run_scoped
from agnt5_evals.projections.views import EvalsView, Row

PAIRS = (
    " FROM {p}run_items a JOIN {p}run_items b ON b.run_id = ? AND b.dataset_item_id = a.dataset_item_id"
    " AND b.repetition = a.repetition"
)
# The pairs' positions first (a subquery PostgreSQL keeps as one: without statistics, of a view just rebuilt, its
# planner would join the two runs' scores on the scorer alone, a cross product), then each side's scores
SCORED_PAIRS = (
    " FROM (SELECT a.dataset_item_id, a.repetition, a.position AS pa, b.position AS pb FROM {p}run_items a JOIN"
    " {p}run_items b ON b.run_id = ? AND b.dataset_item_id = a.dataset_item_id AND b.repetition = a.repetition"
    " WHERE a.run_id = ?{fence}) p"
    " JOIN {p}scores sa ON sa.run_id = ? AND sa.position = p.pa AND sa.is_current = 1"
    " JOIN {p}scores sb ON sb.run_id = ? AND sb.position = p.pb AND sb.is_current = 1"
    " AND sb.scorer_key = sa.scorer_key"
)
PASSED = "CASE WHEN {side}.status = 'passed' THEN 1 ELSE 0 END"
KINDS = {  # a flip's condition, and the side whose scorers failed it
    "newly_failing": ("a.status = 'passed' AND b.status <> 'passed'", "b"),
    "newly_passing": ("a.status <> 'passed' AND b.status = 'passed'", "a"),
}


def _postgres(view: EvalsView) -> bool:
    return view.paramstyle == "format"


def _bytewise(view: EvalsView) -> str:
    return ' COLLATE "C"' if _postgres(view) else ""


def _scored_pairs(view: EvalsView) -> str:
    return SCORED_PAIRS.replace("{fence}", " OFFSET 0" if _postgres(view) else "")


def side(view: EvalsView, run_id: str) -> tuple[int, int]:
    """A run's items and how many passed."""
    _run_scoped(view, run_id)
    sql = f"SELECT COUNT(*) AS n, SUM({PASSED.format(side='i')}) AS passed FROM {{p}}run_items i WHERE i.run_id = ?"
    row = view.query(sql, (run_id,))[0]
    return int(row["n"]), int(row["passed"] or 0)


def statuses(view: EvalsView, base_id: str, other_id: str) -> dict[tuple[bool, bool], int]:
    """The pairs counted by (passed in the base run, passed in the other)."""
    return counted_pairs(view, base_id, other_id)[0]


def counted_pairs(view: EvalsView, base_id: str, other_id: str) -> tuple[dict[tuple[bool, bool], int], int]:
    """The pairs counted by (passed in the base run, passed in the other), and how many pairs have the same
    position in both runs."""
    sql = (f"SELECT {PASSED.format(side='a')} AS was, {PASSED.format(side='b')} AS now, COUNT(*) AS n, "
           "SUM(CASE WHEN a.position = b.position THEN 1 ELSE 0 END) AS aligned" + PAIRS
           + " WHERE a.run_id = ? GROUP BY 1, 2")  # fmt: skip
    rows = view.query(sql, (other_id, base_id))
    return {(bool(r["was"]), bool(r["now"])): int(r["n"]) for r in rows}, sum(int(r["aligned"]) for r in rows)


def _failed_by(kind: str, scorer: str) -> tuple[str, tuple[Any, ...]]:
    if not scorer:
        return "", ()
    failing = KINDS[kind][1]
    sql = (f" AND EXISTS (SELECT 1 FROM {{p}}scores s WHERE s.run_id = {failing}.run_id AND s.position = "
           f"{failing}.position AND s.is_current = 1 AND s.scorer_key = ? AND s.passed = 0)")  # fmt: skip
    return sql, (scorer,)


def flips(
    view: EvalsView, base_id: str, other_id: str, kind: str, scorer: str = "", limit: int | None = None
) -> list[Row]:
    """The pairs that flipped this way (``scorer``: those that scorer failed on their failing side), by
    (dataset item, repetition); ``limit``: the first N."""
    if limit == 0:
        return []
    extra, params = _failed_by(kind, scorer)
    sql = ("SELECT a.dataset_item_id, a.repetition, a.id AS base_run_item_id, b.id AS compare_run_item_id, "
           "a.status AS base_status, b.status AS compare_status" + PAIRS + f" WHERE a.run_id = ? AND {KINDS[kind][0]}"
           + extra + f" ORDER BY a.dataset_item_id{_bytewise(view)}, a.repetition")  # fmt: skip
    args: tuple[Any, ...] = (other_id, base_id, *params)
    if limit is not None:
        sql += " LIMIT ?"
        args += (limit,)
    return view.query(sql, args)


def flip_count(view: EvalsView, base_id: str, other_id: str, kind: str, scorer: str) -> int:
    """How many pairs flipped this way and were failed by ``scorer`` on their failing side."""
    extra, params = _failed_by(kind, scorer)
    sql = "SELECT COUNT(*) AS n" + PAIRS + f" WHERE a.run_id = ? AND {KINDS[kind][0]}" + extra
    return int(view.query(sql, (other_id, base_id, *params))[0]["n"])


def unpaired(view: EvalsView, run_id: str, other_id: str) -> list[str]:
    """The dataset item ids of ``run_id``'s items that have no pair in ``other_id`` (one per item, sorted)."""
    sql = ("SELECT a.dataset_item_id FROM {p}run_items a WHERE a.run_id = ? AND NOT EXISTS (SELECT 1 FROM "
           "{p}run_items b WHERE b.run_id = ? AND b.dataset_item_id = a.dataset_item_id AND b.repetition = "
           "a.repetition)")  # fmt: skip
    return sorted(row["dataset_item_id"] for row in view.query(sql, (run_id, other_id)))


def scorer_means(view: EvalsView, run_id: str) -> dict[str, float]:
    """Each scorer's mean current score over the run's items, summed in item order as a Python ``sum`` of the
    scores would (integer-valued scores sum exactly in any order, in SQL; others are read in order)."""
    sql = ("SELECT scorer_key, COUNT(*) AS n, SUM(score) AS total, SUM(CASE WHEN score = ROUND(score) THEN 0 "
           "ELSE 1 END) AS fractional FROM {p}scores WHERE run_id = ? AND is_current = 1 "
           "GROUP BY scorer_key")  # fmt: skip
    out: dict[str, float] = {}
    for row in view.query(sql, (run_id,)):
        n, key = int(row["n"]), row["scorer_key"]
        if not row["fractional"]:
            out[key] = float(row["total"]) / n
            continue
        ordered = ("SELECT score FROM {p}scores WHERE run_id = ? AND is_current = 1 AND scorer_key = ? "
                   "ORDER BY position, scorer_index")  # fmt: skip
        out[key] = sum(float(r["score"]) for r in view.query(ordered, (run_id, key))) / n
    return out


def scorer_keys(view: EvalsView, *run_ids: str) -> list[str]:
    """The scorers with current scores in any of the runs, sorted."""
    marks = ", ".join("?" for _ in run_ids)
    rows = view.query(f"SELECT DISTINCT scorer_key FROM {{p}}run_scorers WHERE run_id IN ({marks}) AND n > 0", run_ids)
    return sorted(row["scorer_key"] for row in rows)


def scorer_groups(view: EvalsView, base_id: str, other_id: str, aligned: bool = False) -> list[Row]:
    """The pairs both runs scored, per scorer, grouped by (base verdict, other verdict, score difference).
    ``aligned``: every item of each run pairs with the other run's item at the same position (the same dataset
    version and repetitions: the usual case), so scores pair by position without reading the items."""
    group = " GROUP BY sa.scorer_key, sa.passed, sb.passed, sb.score - sa.score"
    head = "SELECT sa.scorer_key AS scorer, sa.passed AS was, sb.passed AS now, sb.score - sa.score AS d, COUNT(*) AS n"
    if aligned:  # one pass over both runs' scores, no join: a plan cannot go quadratic without statistics

        def of(side: str, column: str) -> str:
            return f"MAX(CASE WHEN run_id = ? THEN {column} END) AS {side}_{column}"

        per_position = (
            f"SELECT scorer_key, {of('a', 'passed')}, {of('b', 'passed')}, {of('a', 'score')}, {of('b', 'score')}"
            " FROM {p}scores WHERE run_id IN (?, ?) AND is_current = 1 GROUP BY scorer_key, position"
        )
        sql = (
            "SELECT scorer_key AS scorer, a_passed AS was, b_passed AS now, b_score - a_score AS d, COUNT(*) AS n"
            f" FROM ({per_position}) s WHERE a_passed IS NOT NULL AND b_passed IS NOT NULL"
            " GROUP BY scorer_key, a_passed, b_passed, b_score - a_score"
        )
        return view.query(sql, (base_id, other_id, base_id, other_id, base_id, other_id))
    return view.query(head + _scored_pairs(view) + group, (other_id, base_id, base_id, other_id), hash_joins=True)


def scorer_diffs(view: EvalsView, base_id: str, other_id: str, scorer: str) -> list[float]:
    """A scorer's score differences over the pairs both runs scored, in (dataset item, repetition) order."""
    sql = ("SELECT sb.score - sa.score AS d" + _scored_pairs(view) + " WHERE sa.scorer_key = ? "
           f"ORDER BY p.dataset_item_id{_bytewise(view)}, p.repetition")  # fmt: skip
    rows = view.query(sql, (other_id, base_id, base_id, other_id, scorer), hash_joins=True)
    return [float(row["d"]) for row in rows]


def items_at(view: EvalsView, run_id: str, positions: list[int]) -> dict[int, Row]:
    """A run's items at these positions (ids, dataset item, repetition, status), by position."""
    out: dict[int, Row] = {}
    for start in range(0, len(positions), CHUNK):
        chunk = positions[start : start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        sql = ("SELECT position, id, dataset_item_id, repetition, status FROM {p}run_items WHERE run_id = ? "
               f"AND position IN ({marks})")  # fmt: skip
        out.update((int(row["position"]), row) for row in view.query(sql, (run_id, *chunk)))
    return out
