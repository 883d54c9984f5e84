"""The run page's reads (Studio): latency percentiles, score and latency histograms, and one page of a run's items
filtered and sorted in SQL. Every query reads a bounded number of rows or aggregates in the database; none loads a
run's items or scores.

Each function given a run id first checks that the run is of the current project (``queries`` does the same for
a run's children), then reads only that run's rows; the table's functions take the run's row itself, read through
``queries.run`` (which found it in the current project), and save the check a query each. The SQL works on SQLite
and PostgreSQL alike (bucket boundaries are ``CASE`` chains of comparisons: no ``FLOOR``, no casts whose rounding
differs between the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.projections import queries
from agnt5_evals.projections.views import EvalsView, Row

BUCKETS = 10
PAGE_SIZE = 50
MAX_OFFSET = 1_000_000  # a page past a million rows is a typo, not a page
OUTCOMES = {  # the table's outcome filter: the item statuses each one shows
    "all": (),
    "failures": ("failed", "errored"),
    "failed": ("failed",),
    "errored": ("errored",),
    "passed": ("passed",),
}
SORTS = ("position", "duration")  # and "score:<scorer key>"
DIRECTIONS = ("asc", "desc")


def _scoped(view: EvalsView, run_id: str) -> None:
    queries._run_scoped(view, run_id)


def latency(view: EvalsView, run_id: str, n: int) -> dict[str, Any]:
    """p50, p95 and max of a run's ``n`` recorded items' durations, and their tokens, as ``queries.run_stats``
    computes them (linear interpolation between closest ranks) but by reading only the ranks it needs: each rank is
    one ``ORDER BY duration_ms LIMIT 1 OFFSET k`` (an index range on ``(run_id, duration_ms)``)."""
    _scoped(view, run_id)
    out: dict[str, Any] = {"p50": 0.0, "p95": 0.0, "max": 0.0, "tokens": 0}
    if n <= 0:
        return out
    sql = "SELECT duration_ms FROM {p}run_items WHERE run_id = ? ORDER BY duration_ms {d} LIMIT 1 OFFSET ?"
    cache: dict[int, float] = {}

    def at(rank: int) -> float:
        if rank not in cache:
            # the upper half is read from the other end: fewer index entries to step over
            rows = (
                view.query(sql.replace("{d}", "DESC"), (run_id, n - 1 - rank))
                if rank > n // 2
                else view.query(sql.replace("{d}", "ASC"), (run_id, rank))
            )
            cache[rank] = float(rows[0]["duration_ms"]) if rows else 0.0
        return cache[rank]

    out["max"] = at(n - 1)
    for q in (50, 95):
        rank = (n - 1) * q / 100
        low, high = at(int(rank)), at(min(int(rank) + 1, n - 1))
        out[f"p{q}"] = low + (high - low) * (rank - int(rank))
    return out


def tokens(view: EvalsView, run_id: str) -> int:
    """The tokens of a run's items (one sum over the run's index entries)."""
    _scoped(view, run_id)
    rows = view.query("SELECT SUM(tokens) AS tokens FROM {p}run_items WHERE run_id = ?", (run_id,))
    return int(rows[0]["tokens"] or 0) if rows else 0


def _case(column: str, bounds: list[float]) -> tuple[str, list[float]]:
    """``CASE WHEN column >= b9 THEN 9 ... ELSE 0 END``: the bucket of ``column`` for ascending lower ``bounds``
    (``bounds[0]`` is not compared: everything below ``bounds[1]`` is bucket 0)."""
    parts = [f"WHEN {column} >= ? THEN {i}" for i in range(len(bounds) - 1, 0, -1)]
    return "CASE " + " ".join(parts) + " ELSE 0 END", [bounds[i] for i in range(len(bounds) - 1, 0, -1)]


def score_histograms(view: EvalsView, run_id: str) -> dict[str, list[int]]:
    """Per scorer key, the count of current scores in each tenth of [0, 1] (the last one holds 1.0; a score
    below 0 counts in the first, above 1 in the last): one ``GROUP BY`` over the run's scores."""
    _scoped(view, run_id)
    bucket, params = _case("score", [i / BUCKETS for i in range(BUCKETS)])
    sql = (
        f"SELECT scorer_key, {bucket} AS bucket, COUNT(*) AS n FROM {{p}}scores "
        "WHERE run_id = ? AND is_current = 1 GROUP BY scorer_key, bucket"
    )
    out: dict[str, list[int]] = {}
    for row in view.query(sql, (*params, run_id)):
        out.setdefault(row["scorer_key"], [0] * BUCKETS)[int(row["bucket"])] += int(row["n"])
    return out


def latency_histogram(view: EvalsView, run_id: str, low: float, high: float) -> list[tuple[float, float, int]]:
    """The run's durations in ``BUCKETS`` equal ranges from ``low`` to ``high`` (the run's min and max): each
    range's (start, end, count), from one ``GROUP BY``. Nothing when the run has no items."""
    _scoped(view, run_id)
    width = (high - low) / BUCKETS
    if width <= 0:
        rows = view.query("SELECT COUNT(*) AS n FROM {p}run_items WHERE run_id = ?", (run_id,))
        count = int(rows[0]["n"]) if rows else 0
        return [(low, high, count)] if count else []
    bounds = [low + i * width for i in range(BUCKETS)]
    bucket, params = _case("duration_ms", bounds)
    sql = f"SELECT {bucket} AS bucket, COUNT(*) AS n FROM {{p}}run_items WHERE run_id = ? GROUP BY bucket"
    counts = [0] * BUCKETS
    for row in view.query(sql, (*params, run_id)):
        counts[int(row["bucket"])] += int(row["n"])
    return [(bounds[i], bounds[i] + width, counts[i]) for i in range(BUCKETS)]


def duration_range(view: EvalsView, run_id: str) -> tuple[float, float]:
    """The shortest and longest duration of a run's items (0, 0 without items): two index reads."""
    _scoped(view, run_id)
    sql = "SELECT duration_ms FROM {p}run_items WHERE run_id = ? ORDER BY duration_ms {d} LIMIT 1"
    low = view.query(sql.replace("{d}", "ASC"), (run_id,))
    high = view.query(sql.replace("{d}", "DESC"), (run_id,))
    return (float(low[0]["duration_ms"]) if low else 0.0, float(high[0]["duration_ms"]) if high else 0.0)


@dataclass(frozen=True)
class TableQuery:
    """The item table's controls, as the page's GET form sends them (checked by :func:`table_query`)."""

    outcome: str = "all"
    scorer: str = ""  # only the items this scorer did not pass
    sort: str = "position"  # position, duration or score:<scorer key>
    direction: str = "asc"
    page: int = 1

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def params(self) -> dict[str, Any]:
        """The form's values that differ from the defaults (a bookmarkable query string)."""
        out: dict[str, Any] = {}
        for key, default in (("outcome", "all"), ("scorer", ""), ("sort", "position"), ("direction", "asc")):
            if getattr(self, key) != default:
                out[key] = getattr(self, key)
        if self.page != 1:
            out["page"] = self.page
        return out


def table_query(outcome: str, scorer: str, sort: str, direction: str, page: int, scorer_keys: list[str]) -> TableQuery:
    """The table's controls checked against the run's scorers: Invalid naming the field otherwise."""
    if outcome not in OUTCOMES:
        raise Invalid(f"must be one of {', '.join(OUTCOMES)}, got {outcome[:40]!r}", field="outcome")
    if scorer and scorer not in scorer_keys:
        raise Invalid(f"the run has no scorer {scorer[:80]!r} (its scorers: {', '.join(scorer_keys)})", field="scorer")
    if sort not in SORTS and not (sort.startswith("score:") and sort[len("score:") :] in scorer_keys):
        allowed = ", ".join([*SORTS, *(f"score:{key}" for key in scorer_keys)])
        raise Invalid(f"must be one of {allowed}, got {sort[:80]!r}", field="sort")
    if direction not in DIRECTIONS:
        raise Invalid(f"must be asc or desc, got {direction[:10]!r}", field="direction")
    if not 1 <= page <= MAX_OFFSET // PAGE_SIZE:
        raise Invalid(f"must be between 1 and {MAX_OFFSET // PAGE_SIZE}, got {page}", field="page")
    return TableQuery(outcome, scorer, sort, direction, page)


ITEM_COLUMNS = "id, position, dataset_item_id, repetition, status, output, error, duration_ms"


def item_page(view: EvalsView, run: Row, table: TableQuery) -> tuple[list[Row], bool]:
    """One page of the run's items as the table's controls ask (filters and order in SQL, ``LIMIT`` one more row
    than a page to know whether a next page exists): the rows (without their scores) and whether more follow.

    Two steps: the page's positions (an item's position is unique in its run) from the sort's index alone, when no
    outcome filter needs the item rows, then those items' rows; an ``OFFSET`` deep in a big run steps over index
    entries, not over rows.
    """
    run_id = run["id"]
    params: list[Any] = [run_id]
    statuses = OUTCOMES[table.outcome]
    if table.sort.startswith("score:"):
        source = "{p}scores s" + (
            " JOIN {p}run_items i ON i.run_id = s.run_id AND i.position = s.position" if statuses else ""
        )
        where = "s.run_id = ? AND s.is_current = 1 AND s.scorer_key = ?"
        params.append(table.sort[len("score:") :])
        key, in_run = "s.position", "s.run_id"
    else:
        source, where, key, in_run = "{p}run_items i", "i.run_id = ?", "i.position", "i.run_id"
    if statuses:
        where += f" AND i.status IN ({', '.join('?' for _ in statuses)})"
        params += statuses
    if table.scorer:
        where += (
            " AND EXISTS (SELECT 1 FROM {p}scores f WHERE f.run_id = "
            + in_run
            + " AND f.position = "
            + key
            + " AND f.is_current = 1 AND f.scorer_key = ? AND f.passed = 0)"
        )
        params.append(table.scorer)
    direction = "DESC" if table.direction == "desc" else "ASC"
    order = {
        "position": f"i.position {direction}",
        "duration": f"i.duration_ms {direction}, i.position {direction}",
    }.get(table.sort, f"s.score {direction}, s.position {direction}")
    sql = f"SELECT {key} AS position FROM {source} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
    keys = [int(row["position"]) for row in view.query(sql, (*params, PAGE_SIZE + 1, table.offset))]
    more, keys = len(keys) > PAGE_SIZE, keys[:PAGE_SIZE]
    if not keys:
        return [], more
    marks = ", ".join("?" for _ in keys)
    sql = f"SELECT {ITEM_COLUMNS} FROM {{p}}run_items WHERE run_id = ? AND position IN ({marks})"
    by_position = {row["position"]: row for row in queries._rows(view, sql, run_id, *keys)}
    return [by_position[p] for p in keys if p in by_position], more


def item_scores(view: EvalsView, run: Row, items: list[Row]) -> dict[str, dict[str, Row]]:
    """The current scores of these items of the run (``item_page``'s): ``{run item id: {scorer key: score row}}``
    (one query, at the items' positions in the run's score index)."""
    if not items:
        return {}
    positions = [item["position"] for item in items]
    marks = ", ".join("?" for _ in positions)
    sql = (
        "SELECT run_item_id, scorer_key, score, passed, errored, label FROM {p}scores WHERE run_id = ? "
        f"AND position IN ({marks}) AND is_current = 1 ORDER BY position, scorer_index"  # the order steers SQLite's
    )  # planner to the (run, position) index; else it takes (run, is_current) and walks the run's scores
    out: dict[str, dict[str, Row]] = {}
    for row in view.query(sql, (run["id"], *positions)):
        out.setdefault(row["run_item_id"], {})[row["scorer_key"]] = row
    return out


def item_inputs(view: EvalsView, run: Row, item_ids: list[str]) -> dict[str, Any]:
    """The inputs of these items of the run's dataset version, by item id (one query for a page)."""
    version_id = run["dataset_version_id"]
    unique = list(dict.fromkeys(item_ids))
    if not unique:
        return {}
    marks = ", ".join("?" for _ in unique)
    sql = f"SELECT item_id, input FROM {{p}}dataset_items WHERE version_id = ? AND live = 1 AND item_id IN ({marks})"
    return {row["item_id"]: row["input"] for row in queries._rows(view, sql, version_id, *unique)}


def run_header(view: EvalsView, run: Row) -> Row:
    """The names the run's header shows: its experiment's, its dataset's and its version's number (one query; a
    missing one is None)."""
    sql = (
        "SELECT e.name AS experiment_name, d.name AS dataset_name, v.number AS version_number FROM {p}runs r "
        "LEFT JOIN {p}experiments e ON e.id = r.experiment_id LEFT JOIN {p}datasets d ON d.id = r.dataset_id "
        "LEFT JOIN {p}dataset_versions v ON v.id = r.dataset_version_id WHERE r.id = ?"
    )
    rows = view.query(sql, (run["id"],))
    return rows[0] if rows else {"experiment_name": None, "dataset_name": None, "version_number": None}
