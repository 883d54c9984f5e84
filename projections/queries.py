"""Queries over the read model. Every query command of the CLI and REST API reads through here.

Every query reads only the current context's project (``tenancy.current_project``; ``None``, the system scope:
every project): a list holds the project's rows, a lookup by id of another project's row is not found, and a query
of a child (a run's items, a version's items) first checks that its parent is of the project.
"""

from __future__ import annotations

from typing import Any

import orjson

from agnt5_evals.domain.errors import NotFound
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, current_project
from agnt5_evals.projections.traces import expand
from agnt5_evals.projections.views import EvalsView, Row

JSON_COLUMNS = {
    "metadata", "input", "expected_output", "events", "components", "definition", "spec", "output",
    "config", "evidence", "messages", "parameters", "response_schema", "scorers", "include_globs", "exclude_globs",
}  # fmt: skip
FLAG_COLUMNS = ("editable", "archived")  # 0/1 in the tables, booleans in the rows


class RawJson:
    """A JSON column's stored text, undecoded (a ``raw`` read): an answer serialised straight from the rows embeds
    it as it is (the handlers wrote it with ``orjson.dumps``, so it is what encoding the decoded value gives). Not
    a ``str``: serialising it by mistake fails instead of writing the text as a JSON string."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJson({self.text!r})"


def _decode(row: Row, raw: bool = False) -> Row:
    """A table row as a read answers it: JSON columns decoded (``raw``: kept as ``RawJson``), 0/1 flags as
    booleans."""
    return _decoded_rows([row], raw)[0]


def _decoded_rows(rows: list[Row], raw: bool = False) -> list[Row]:
    """``_decode`` of every row of one query (they share their columns: what to decode is found once)."""
    if not rows:
        return rows
    columns = rows[0].keys()
    texts = tuple(JSON_COLUMNS & columns)
    flags = tuple(key for key in FLAG_COLUMNS if key in columns)
    if "score" in columns:
        flags += tuple(key for key in ("passed", "errored", "is_current") if key in columns)
    project = "project_id" in columns  # a row does not repeat its project: the context that reads it names it
    decode = RawJson if raw else orjson.loads
    for row in rows:
        if project:
            del row["project_id"]
        for key in texts:
            value = row[key]
            if isinstance(value, str):
                if key == "events" and value[:1] == "{":  # a run item's trace stored compact (``traces``)
                    whole = expand(orjson.loads(value))
                    row[key] = RawJson(orjson.dumps(whole).decode()) if raw else whole
                else:
                    row[key] = decode(value)
        for key in flags:
            value = row[key]
            if isinstance(value, int):
                row[key] = bool(value)
    return rows


def decoded(value: Any) -> Any:
    """A JSON column's value from a ``raw`` read (decoded on demand) or from a plain one (as it is)."""
    return orjson.loads(value.text) if isinstance(value, RawJson) else value


def _rows(view: EvalsView, sql: str, *params: Any, raw: bool = False) -> list[Row]:
    return _decoded_rows(view.query(sql, params), raw)


def _one(view: EvalsView, what: str, ident: str, sql: str, *params: Any) -> Row:
    rows = _rows(view, sql, *params)
    if not rows:
        raise NotFound(f"{what} {ident} not found")
    return rows[0]


def _in_project(column: str = "project_id") -> tuple[str, tuple[Any, ...]]:
    """The condition that keeps the current project's rows: `` AND column = ?`` and its parameter (nothing in the
    system scope)."""
    project = current_project()
    return ("", ()) if project is None else (f" AND {column} = ?", (project,))


def _scoped(view: EvalsView, table: str, what: str, ident: str) -> None:
    """A child query's parent check: the row ``ident`` of ``table`` must be of the current project."""
    project = current_project()
    if project is None:
        return
    rows = view.query(f"SELECT project_id FROM {{p}}{table} WHERE id = ?", (ident,))
    if not rows or (rows[0]["project_id"] or DEFAULT_PROJECT) != project:
        raise NotFound(f"{what} {ident} not found")


def _by_id(view: EvalsView, table: str, what: str, ident: str) -> Row:
    where, scope = _in_project()
    return _one(view, what, ident, f"SELECT * FROM {{p}}{table} WHERE id = ?" + where, ident, *scope)


def projects(view: EvalsView) -> list[Row]:
    """Every project (the ``default`` one is implicit: it has no row unless created)."""
    return _rows(view, "SELECT * FROM {p}projects ORDER BY created_at, id")


def project(view: EvalsView, project_id: str) -> Row:
    return _one(view, "project", project_id, "SELECT * FROM {p}projects WHERE id = ?", project_id)


def datasets(view: EvalsView, search: str = "", archived: bool = False) -> list[Row]:
    """Datasets by creation (names containing ``search``); ``archived`` True: the archived ones too."""
    where, scope = _in_project()
    shown = "" if archived else " AND archived = 0"
    sql = "SELECT * FROM {p}datasets WHERE name LIKE ?" + shown + where + " ORDER BY created_at"
    return _rows(view, sql, f"%{search}%", *scope)


def dataset(view: EvalsView, dataset_id: str) -> Row:
    return _by_id(view, "datasets", "dataset", dataset_id)


def dataset_versions(view: EvalsView, dataset_id: str) -> list[Row]:
    dataset(view, dataset_id)
    return _rows(view, "SELECT * FROM {p}dataset_versions WHERE dataset_id = ? ORDER BY number", dataset_id)


def dataset_version(view: EvalsView, version_id: str) -> Row:
    return _by_id(view, "dataset_versions", "dataset version", version_id)


def version_items(view: EvalsView, version_id: str) -> list[Row]:
    _scoped(view, "dataset_versions", "dataset version", version_id)
    return _rows(view, "SELECT * FROM {p}dataset_items WHERE version_id = ? AND live = 1 ORDER BY position", version_id)


def draft_items(view: EvalsView, dataset_id: str) -> list[Row]:
    _scoped(view, "datasets", "dataset", dataset_id)
    return _rows(view, "SELECT * FROM {p}draft_items WHERE dataset_id = ? ORDER BY seq", dataset_id)


def deployments(view: EvalsView, archived: bool = False) -> list[Row]:
    """Deployments by creation; ``archived`` True: the archived ones too."""
    where, scope = _in_project()
    sql = "SELECT * FROM {p}deployments WHERE " + ("1 = 1" if archived else "archived = 0") + where
    return _rows(view, sql + " ORDER BY created_at", *scope)


def deployment(view: EvalsView, deployment_id: str) -> Row:
    return _by_id(view, "deployments", "deployment", deployment_id)


def scorers(view: EvalsView) -> list[Row]:
    where, scope = _in_project()
    return _rows(view, "SELECT * FROM {p}scorers WHERE 1 = 1" + where + " ORDER BY created_at", *scope)


def experiments(
    view: EvalsView, dataset_id: str = "", limit: int = 0, offset: int = 0, shown: str = "active"
) -> list[Row]:
    """Experiments, oldest first; optionally over one dataset, and one page of them (``limit`` > 0). ``shown``:
    the ``active`` ones, the ``archived`` ones, or ``all``."""
    where, scope = _in_project()
    flag = {"active": " AND archived = 0", "archived": " AND archived = 1"}.get(shown, "")
    sql = "SELECT * FROM {p}experiments WHERE 1 = 1" + flag + where
    params: list[Any] = list(scope)
    if dataset_id:
        sql += " AND dataset_id = ?"
        params.append(dataset_id)
    sql += " ORDER BY created_at, id"
    if limit:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return _rows(view, sql, *params)


def experiment(view: EvalsView, experiment_id: str) -> Row:
    return _by_id(view, "experiments", "experiment", experiment_id)


def experiment_versions(view: EvalsView, experiment_id: str) -> list[Row]:
    experiment(view, experiment_id)
    sql = "SELECT * FROM {p}experiment_versions WHERE experiment_id = ? ORDER BY number"
    return _rows(view, sql, experiment_id)


def experiment_version(view: EvalsView, version_id: str) -> Row:
    return _by_id(view, "experiment_versions", "experiment version", version_id)


def runs(view: EvalsView, experiment_id: str) -> list[Row]:
    experiment(view, experiment_id)
    return _rows(view, "SELECT * FROM {p}runs WHERE experiment_id = ? ORDER BY created_at", experiment_id)


def run(view: EvalsView, run_id: str) -> Row:
    return _by_id(view, "runs", "run", run_id)


def _run_scoped(view: EvalsView, run_id: str) -> None:
    _scoped(view, "runs", "run", run_id)


def run_scorers(view: EvalsView, run_id: str) -> list[Row]:
    _run_scoped(view, run_id)
    return _rows(view, "SELECT * FROM {p}run_scorers WHERE run_id = ? ORDER BY scorer_index", run_id)


def run_items(
    view: EvalsView,
    run_id: str,
    statuses: tuple[str, ...] = (),
    limit: int | None = None,
    failed_by: str = "",
    after: int = -1,
    raw: bool = False,
) -> list[Row]:
    """A run's items with their scores (``scores``: list of score rows in scorer order), in position order;
    ``statuses``: only those; ``failed_by``: only the items that scorer did not pass; ``limit``: the first N (the
    others are neither read nor decoded); ``after``: only the positions after it (a page after the last shown);
    ``raw``: JSON columns as ``RawJson`` (see ``_decode``)."""
    _run_scoped(view, run_id)
    if limit is None and not failed_by and after < 0:
        sql = "SELECT * FROM {p}run_items WHERE run_id = ?"
        if statuses:
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
        items = _rows(view, sql + " ORDER BY position", run_id, *statuses, raw=raw)
        by_item: dict[str, list[Row]] = {}
        for score in _item_scores(view, run_id, statuses, raw) if items else ():
            by_item.setdefault(score["run_item_id"], []).append(score)
    elif limit is not None and len(statuses) > 1:  # a page of several statuses: one query reads each
        # status's first positions from the (run, status, position) index alone, keeps the page's, and reads
        # only those rows
        items = _page_of_statuses(view, run_id, statuses, limit, failed_by, after, raw)
        by_item = _scores_of(view, run_id, items, raw)
    else:  # one status at a time, each read in order from the (run, status, position) index, then merged
        items = []
        for status in statuses or (None,):
            items += _some_items(view, run_id, status, limit, failed_by, after, raw)
        items.sort(key=lambda item: item["position"])
        items = items if limit is None else items[:limit]
        by_item = _scores_of(view, run_id, items, raw)
    for item in items:
        item["scores"] = by_item.get(item["id"], [])
    return items


def _some_where(run_id: str, status: str | None, failed_by: str, after: int) -> tuple[str, list[Any]]:
    sql, params = " WHERE run_id = ?", list[Any]([run_id])
    if status is not None:
        sql += " AND status = ?"
        params.append(status)
    if after >= 0:
        sql += " AND position > ?"
        params.append(after)
    if failed_by:
        sql += (" AND id IN (SELECT run_item_id FROM {p}scores WHERE run_id = ? AND is_current = 1 AND scorer_key = ?"
                " AND passed = 0)")  # fmt: skip
        params += [run_id, failed_by]
    return sql + " ORDER BY position", params


def _some_items(
    view: EvalsView,
    run_id: str,
    status: str | None,
    limit: int | None,
    failed_by: str,
    after: int = -1,
    raw: bool = False,
) -> list[Row]:
    where, params = _some_where(run_id, status, failed_by, after)
    sql = "SELECT * FROM {p}run_items" + where
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return _rows(view, sql, *params, raw=raw)


def _page_of_statuses(
    view: EvalsView, run_id: str, statuses: tuple[str, ...], limit: int, failed_by: str, after: int, raw: bool
) -> list[Row]:
    """The first ``limit`` items of these statuses in position order, in one statement."""
    firsts, params = list[str](), list[Any]()
    for status in statuses:
        where, some = _some_where(run_id, status, failed_by, after)
        firsts.append(f"SELECT position FROM (SELECT position FROM {{p}}run_items{where} LIMIT ?) AS s{len(firsts)}")
        params += [*some, limit]
    marks = ", ".join("?" * len(statuses))  # defensive: (run, position) is unique by the domain, not by an index
    sql = (f"SELECT * FROM {{p}}run_items WHERE run_id = ? AND status IN ({marks}) AND position IN (SELECT position"
           f" FROM ({' UNION ALL '.join(firsts)}) AS firsts ORDER BY position LIMIT ?) ORDER BY position")  # fmt: skip
    return _rows(view, sql, run_id, *statuses, *params, limit, raw=raw)


def _scores_of(view: EvalsView, run_id: str, items: list[Row], raw: bool = False) -> dict[str, list[Row]]:
    """The current scores of these items of the run, in scorer order, by run item id (looked up by the items'
    positions in the run's score index: a range of the run would let SQLite walk the run's every score)."""
    out: dict[str, list[Row]] = {}
    for start in range(0, len(items), CHUNK):
        positions = [item["position"] for item in items[start : start + CHUNK]]
        marks = ", ".join("?" for _ in positions)
        sql = f"SELECT * FROM {{p}}scores WHERE run_id = ? AND position IN ({marks}) AND is_current = 1"
        for score in _rows(view, sql + " ORDER BY position, scorer_index", run_id, *positions, raw=raw):
            out.setdefault(score["run_item_id"], []).append(score)
    return out


def _item_scores(view: EvalsView, run_id: str, statuses: tuple[str, ...], raw: bool = False) -> list[Row]:
    """The current scores of a run's items of these statuses (all: every item), without reading the others' (the
    failures of a 10,000-item run that passed are none, and cost nothing to list)."""
    if not statuses:
        return scores(view, run_id=run_id, raw=raw)
    _run_scoped(view, run_id)
    sql = (
        "SELECT * FROM {p}scores WHERE is_current = 1 AND run_id = ? AND position IN (SELECT position FROM "
        f"{{p}}run_items WHERE run_id = ? AND status IN ({', '.join('?' for _ in statuses)})) "
        "ORDER BY position, scorer_index"
    )
    return _rows(view, sql, run_id, run_id, *statuses, raw=raw)


def run_item_outcomes(view: EvalsView, run_id: str) -> list[Row]:
    """Each run item's ids, repetition and status, with its current scores as ``{scorer key: score}``: what a
    comparison needs, without decoding outputs, events and score configs (a third of the time for 10,000 items)."""
    _run_scoped(view, run_id)
    items = view.query(
        "SELECT id, dataset_item_id, repetition, status FROM {p}run_items WHERE run_id = ? ORDER BY position", (run_id,)
    )
    by_id: dict[str, dict[str, float]] = {item["id"]: {} for item in items}
    passed: dict[str, dict[str, bool]] = {item["id"]: {} for item in items}
    sql = "SELECT run_item_id, scorer_key, score, passed FROM {p}scores WHERE is_current = 1 AND run_id = ?"
    for score in view.query(sql + " ORDER BY position, scorer_index", (run_id,)):
        by_id.get(score["run_item_id"], {})[score["scorer_key"]] = score["score"]
        passed.get(score["run_item_id"], {})[score["scorer_key"]] = bool(score["passed"])
    return [{**item, "scores": by_id[item["id"]], "passed": passed[item["id"]]} for item in items]


CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def run_items_by_id(view: EvalsView, run_id: str, run_item_ids: list[str]) -> dict[str, Row]:
    """These run items of a run (unknown ids are left out) with their current scores, by id: the details of a few
    items (flips, failures) without reading the run's other items (looked up by id: a filter on the run would let
    SQLite walk the run)."""
    _run_scoped(view, run_id)
    out: dict[str, Row] = {}
    for start in range(0, len(run_item_ids), CHUNK):
        ids = run_item_ids[start : start + CHUNK]
        marks = ", ".join("?" for _ in ids)
        for item in _rows(view, f"SELECT * FROM {{p}}run_items WHERE id IN ({marks})", *ids):
            if item["run_id"] == run_id:
                out[item["id"]] = {**item, "scores": []}
    for item_id, scores in _scores_of(view, run_id, list(out.values())).items():
        out[item_id]["scores"] = scores
    return out


def dataset_items_by_id(view: EvalsView, version_id: str, item_ids: list[str], raw: bool = False) -> dict[str, Row]:
    """These live items of a dataset version (unknown ids are left out), by item id (``raw``: see ``_decode``)."""
    _scoped(view, "dataset_versions", "dataset version", version_id)
    out: dict[str, Row] = {}
    unique = list(dict.fromkeys(item_ids))
    for start in range(0, len(unique), CHUNK):
        ids = unique[start : start + CHUNK]
        marks = ", ".join("?" for _ in ids)
        sql = f"SELECT * FROM {{p}}dataset_items WHERE version_id = ? AND live = 1 AND item_id IN ({marks})"
        out.update({row["item_id"]: row for row in _rows(view, sql, version_id, *ids, raw=raw)})
    return out


def chosen_run_items(items: list[Row], run_item_ids: list[str], run_id: str) -> list[Row]:
    """The run items with these ids, in the order given (each once); an unknown id names ``run_item_ids``."""
    by_id = {item["id"]: item for item in items}
    missing = [rid for rid in run_item_ids if rid not in by_id]
    if missing:
        raise NotFound(f"run item {missing[0]} is not part of run {run_id}", field="run_item_ids")
    return [by_id[rid] for rid in dict.fromkeys(run_item_ids)]


def run_item_errors(view: EvalsView, run_id: str) -> dict[str, str | None]:
    """Each run item's execution error (None when it produced an output), in position order."""
    _run_scoped(view, run_id)
    rows = view.query("SELECT id, error FROM {p}run_items WHERE run_id = ? ORDER BY position", (run_id,))
    return {row["id"]: row["error"] for row in rows}


def _in_project_runs(column: str = "run_id") -> tuple[str, tuple[Any, ...]]:
    """The condition that keeps the rows of the current project's runs (nothing in the system scope)."""
    project = current_project()
    if project is None:
        return "", ()
    return f" AND {column} IN (SELECT id FROM {{p}}runs WHERE project_id = ?)", (project,)


def run_item(view: EvalsView, run_item_id: str) -> Row:
    where, scope = _in_project_runs()
    sql = "SELECT * FROM {p}run_items WHERE id = ?" + where
    return _one(view, "run item", run_item_id, sql, run_item_id, *scope)


def scores(
    view: EvalsView,
    run_id: str = "",
    run_item_id: str = "",
    scorer: str = "",
    rescore_id: str = "",
    window: tuple[int, int] | None = None,
    after: tuple[int, int, str] | None = None,
    raw: bool = False,
) -> list[Row]:
    """Current scores (the run's own, or those of a replacing rescore that superseded them); with ``rescore_id``,
    the scores that rescore recorded, current or not. In item order (position, scorer index, id); ``window``:
    (limit, offset); ``after``: only the scores after this (position, scorer index, id), the last one shown."""
    sql = "SELECT * FROM {p}scores WHERE " + ("rescore_id = ?" if rescore_id else "is_current = 1")
    params: list[Any] = [rescore_id] if rescore_id else []
    if after is not None:
        # position >= ?, redundant, lets both planners start the index range there instead of filtering the run
        sql += (" AND position >= ? AND (position > ? OR (position = ? AND (scorer_index > ? OR (scorer_index = ?"
                " AND id > ?))))")  # fmt: skip
        params += [after[0], after[0], after[0], after[1], after[1], after[2]]
    for column, value in (("run_id", run_id), ("run_item_id", run_item_id), ("scorer_key", scorer)):
        if value:
            sql += f" AND {column} = ?"
            params.append(value)
    if run_item_id:  # the item's scores are at its position in its run's score index (no index on run_item_id)
        place = view.query("SELECT run_id, position FROM {p}run_items WHERE id = ?", (run_item_id,))
        if not place:
            return []
        sql += " AND run_id = ? AND position = ?"
        params += [place[0]["run_id"], place[0]["position"]]
    if run_id:
        _run_scoped(view, run_id)  # one check, instead of a filter on every row
    else:
        where, scope = _in_project_runs()
        sql += where
        params.extend(scope)
    sql += " ORDER BY position, scorer_index, id" + (" LIMIT ? OFFSET ?" if window else "")
    return _rows(view, sql, *params, *(window or ()), raw=raw)


def score_cursor(view: EvalsView, score_id: str) -> tuple[str, tuple[int, int, str]] | None:
    """A score's run and its place in item order (``scores``' ``after``), or None for an unknown id."""
    rows = view.query("SELECT run_id, position, scorer_index, id FROM {p}scores WHERE id = ?", (score_id,))
    if not rows:
        return None
    return str(rows[0]["run_id"]), (int(rows[0]["position"]), int(rows[0]["scorer_index"]), str(rows[0]["id"]))


def run_annotations(view: EvalsView, run_id: str, run_item_id: str = "", name: str = "") -> list[Row]:
    """A run's annotations, oldest first."""
    run(view, run_id)
    sql, params = "SELECT * FROM {p}annotations WHERE run_id = ?", [run_id]
    for column, value in (("run_item_id", run_item_id), ("name", name)):
        if value:
            sql += f" AND {column} = ?"
            params.append(value)
    return _rows(view, sql + " ORDER BY created_at, id", *params)


def rescores(view: EvalsView, run_id: str) -> list[Row]:
    run(view, run_id)
    return _rows(view, "SELECT * FROM {p}rescores WHERE run_id = ? ORDER BY created_at", run_id)


def rescore(view: EvalsView, rescore_id: str) -> Row:
    return _by_id(view, "rescores", "rescore", rescore_id)


def rescore_flips(view: EvalsView, rescore_id: str) -> list[Row]:
    """The rescored items whose status changed, with their dataset item."""
    _scoped(view, "rescores", "rescore", rescore_id)
    sql = (
        "SELECT r.run_item_id, r.position, r.previous_status, r.status, i.dataset_item_id FROM {p}rescore_items r "
        "JOIN {p}run_items i ON i.id = r.run_item_id WHERE r.rescore_id = ? AND r.status <> r.previous_status "
        "ORDER BY r.position"
    )
    return _rows(view, sql, rescore_id)


def rescore_scorers(view: EvalsView, rescore_id: str) -> list[Row]:
    """Per-scorer aggregates of what a rescore recorded."""
    _scoped(view, "rescores", "rescore", rescore_id)
    sql = (
        "SELECT scorer_key, MIN(scorer_name) AS scorer_name, COUNT(*) AS n, AVG(score) AS mean_score, "
        "SUM(passed) AS n_passed, SUM(errored) AS n_errored FROM {p}scores WHERE rescore_id = ? "
        "GROUP BY scorer_key ORDER BY MIN(scorer_index)"
    )
    return _rows(view, sql, rescore_id)


def score(view: EvalsView, score_id: str) -> Row:
    where, scope = _in_project_runs()
    return _one(view, "score", score_id, "SELECT * FROM {p}scores WHERE id = ?" + where, score_id, *scope)


def dataset_item(view: EvalsView, version_id: str, item_id: str) -> Row:
    _scoped(view, "dataset_versions", "dataset version", version_id)
    sql = "SELECT * FROM {p}dataset_items WHERE version_id = ? AND item_id = ? AND live = 1"
    return _one(view, "dataset item", item_id, sql, version_id, item_id)


def run_stats(view: EvalsView, run_id: str, repetitions: bool = False) -> dict[str, Any]:
    """Latency percentiles (p50, p95, max), total tokens and, with ``repetitions``, each dataset item's outcomes.

    Percentiles interpolate linearly between closest ranks (``numpy.percentile``'s default). The k-th duration is
    read from the index on (run, duration) from whichever end is nearer, so a run of any size costs a few small
    queries and nothing is sorted per request.
    """
    _run_scoped(view, run_id)
    head = view.query(
        "SELECT COUNT(*) AS n, MAX(duration_ms) AS max_ms, SUM(tokens) AS tokens FROM {p}run_items WHERE run_id = ?",
        (run_id,),
    )[0]
    n = int(head["n"])
    latency = {"p50": 0.0, "p95": 0.0, "max": float(head["max_ms"] or 0.0)}
    for q in (50, 95) if n else ():
        rank = (n - 1) * q / 100
        low, high = _ranked_pair(view, run_id, int(rank), n)
        latency[f"p{q}"] = low + (high - low) * (rank - int(rank))
    groups: dict[str, list[bool]] = {}
    if repetitions:
        sql = (
            "SELECT dataset_item_id, COUNT(*) AS n, SUM(CASE WHEN status = 'passed' THEN 1 ELSE 0 END) AS passed "
            "FROM {p}run_items WHERE run_id = ? GROUP BY dataset_item_id"
        )
        for row in view.query(sql, (run_id,)):  # the order of an item's outcomes does not matter (any, all)
            passed = int(row["passed"])
            groups[row["dataset_item_id"]] = [True] * passed + [False] * (int(row["n"]) - passed)
    return {"latency_ms": latency, "tokens": int(head["tokens"] or 0), "repetitions": groups}


def _ranked_pair(view: EvalsView, run_id: str, k: int, n: int) -> tuple[float, float]:
    """The run's durations of ranks ``k`` and ``min(k + 1, n - 1)`` in ascending order (0-based), read from the
    nearer end of the index."""
    sql = "SELECT duration_ms FROM {p}run_items WHERE run_id = ? ORDER BY duration_ms"
    if k == n - 1:
        top = float(view.query(sql + " DESC LIMIT 1", (run_id,))[0]["duration_ms"])
        return top, top
    if k <= n - 2 - k:  # ranks k and k + 1 from the bottom
        low, high = (float(row["duration_ms"]) for row in view.query(sql + " LIMIT 2 OFFSET ?", (run_id, k)))
        return low, high
    high, low = (float(row["duration_ms"]) for row in view.query(sql + " DESC LIMIT 2 OFFSET ?", (run_id, n - 2 - k)))
    return low, high


def prompts(view: EvalsView) -> list[Row]:
    where, scope = _in_project()
    return _rows(view, "SELECT * FROM {p}prompts WHERE 1 = 1" + where + " ORDER BY created_at", *scope)


def prompt(view: EvalsView, prompt_id: str) -> Row:
    return _by_id(view, "prompts", "prompt", prompt_id)


def prompt_versions(view: EvalsView, prompt_id: str) -> list[Row]:
    prompt(view, prompt_id)
    return _rows(view, "SELECT * FROM {p}prompt_versions WHERE prompt_id = ? ORDER BY number", prompt_id)


def prompt_version(view: EvalsView, version_id: str) -> Row:
    return _by_id(view, "prompt_versions", "prompt version", version_id)


def export_run_items(view: EvalsView, run_id: str, positions: tuple[int, int] = (0, 2**31 - 1)) -> list[Row]:
    """A run's items for an export in two queries, without the traces (only an errored item's, for its stack):
    each with its current ``scores`` in scorer order. ``positions``: only those in ``[start, end)`` (a page)."""
    _run_scoped(view, run_id)
    sql = ("SELECT id, position, dataset_item_id, repetition, status, output, error, duration_ms, tokens, "
           "CASE WHEN status = 'errored' THEN events ELSE '[]' END AS events FROM {p}run_items "
           "WHERE run_id = ? AND position >= ? AND position < ? ORDER BY position")  # fmt: skip
    items = _rows(view, sql, run_id, *positions)
    by_item: dict[str, list[Row]] = {item["id"]: [] for item in items}
    sql = ("SELECT run_item_id, scorer_key, score, passed, errored, label, explanation, metadata FROM {p}scores "
           "WHERE is_current = 1 AND run_id = ? AND position >= ? AND position < ? "
           "ORDER BY position, scorer_index, id")  # fmt: skip
    for score in _rows(view, sql, run_id, *positions):
        by_item.get(score["run_item_id"], []).append(score)
    for item in items:
        item["scores"] = by_item[item["id"]]
    return items


def scored_keys(view: EvalsView, run_id: str) -> list[str]:
    """The scorer keys of a run's current scores in order of first appearance (by position, then scorer index;
    the position as a 64-bit integer: a 32-bit one times 10^6 overflows on PostgreSQL)."""
    sql = ("SELECT scorer_key FROM {p}scores WHERE is_current = 1 AND run_id = ? GROUP BY scorer_key "
           "ORDER BY MIN(CAST(position AS BIGINT) * 1000000 + scorer_index)")  # fmt: skip
    return [row["scorer_key"] for row in view.query(sql, (run_id,))]


def version_values(view: EvalsView, version_id: str) -> list[Row]:
    """The ids, inputs and expected outputs of a dataset version's items, in one query."""
    _scoped(view, "dataset_versions", "dataset version", version_id)
    sql = "SELECT item_id, input, expected_output FROM {p}dataset_items WHERE version_id = ? AND live = 1"
    return _rows(view, sql, version_id)
