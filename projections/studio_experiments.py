"""Read-model queries of the Studio's experiment pages: a page of experiments with their dataset, runs count and
latest run; an experiment's recent runs with their per-scorer aggregates; the names of what definitions point at;
the run items a flaky panel links to. Each is one or two statements however many runs and items there are (the
runs table's aggregates, never a run's items, except the flaky links: a bounded ``IN`` list of one run).

Every query reads only the current project, as ``projections.queries`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agnt5_evals.projections.queries import _decode, _in_project, _rows, experiment
from agnt5_evals.projections.views import EvalsView, Row

MAX_SEARCH = 200


def _like(text: str) -> str:
    """``%text%`` for ``LIKE ... ESCAPE '!'``, the text's own ``%``, ``_`` and ``!`` matched as themselves."""
    escaped = text[:MAX_SEARCH].lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def experiment_page(view: EvalsView, search: str = "", limit: int = 50, offset: int = 0) -> list[Row]:
    """Active experiments, newest first, whose name or description contains ``search`` (any case): each with its
    dataset's name, its dataset version's number and its runs count (``runs``)."""
    where, scope = _in_project("e.project_id")
    sql = (
        "SELECT e.id, e.name, e.description, e.dataset_id, e.dataset_version_id, e.definition, e.created_at, "
        "d.name AS dataset_name, v.number AS version_number, "
        "(SELECT COUNT(*) FROM {p}runs r WHERE r.experiment_id = e.id) AS runs "
        "FROM {p}experiments e LEFT JOIN {p}datasets d ON d.id = e.dataset_id "
        "LEFT JOIN {p}dataset_versions v ON v.id = e.dataset_version_id WHERE e.archived = 0" + where
    )
    params: list[Any] = list(scope)
    if search:
        sql += " AND (LOWER(e.name) LIKE ? ESCAPE '!' OR LOWER(e.description) LIKE ? ESCAPE '!')"
        params += [_like(search), _like(search)]
    sql += " ORDER BY e.created_at DESC, e.id LIMIT ? OFFSET ?"
    return _rows(view, sql, *params, limit, offset)


def latest_runs(view: EvalsView, experiment_ids: Sequence[str]) -> dict[str, Row]:
    """The newest run of each experiment (those that have one), by experiment id."""
    if not experiment_ids:
        return {}
    marks = ", ".join("?" * len(experiment_ids))
    newest = (
        "SELECT (SELECT r2.id FROM {p}runs r2 WHERE r2.experiment_id = e.id ORDER BY r2.created_at DESC, r2.id DESC "
        f"LIMIT 1) FROM {{p}}experiments e WHERE e.id IN ({marks})"
    )  # one index probe per experiment, however many runs each has
    sql = f"SELECT * FROM {{p}}runs WHERE id IN ({newest})"
    return {row["experiment_id"]: row for row in _rows(view, sql, *experiment_ids)}


def recent_runs(view: EvalsView, experiment_id: str, limit: int) -> tuple[list[Row], int]:
    """An experiment's newest ``limit`` runs, oldest first, and how many runs it has (the experiment must be of the
    project)."""
    experiment(view, experiment_id)
    count = view.query("SELECT COUNT(*) AS n FROM {p}runs WHERE experiment_id = ?", (experiment_id,))
    sql = "SELECT * FROM {p}runs WHERE experiment_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
    rows = _rows(view, sql, experiment_id, limit)
    return rows[::-1], int(count[0]["n"])


def scorer_rows(view: EvalsView, run_ids: Sequence[str]) -> dict[str, list[Row]]:
    """The per-scorer aggregates (``run_scorers``) of the runs, by run id (callers checked the runs' project)."""
    out: dict[str, list[Row]] = {run_id: [] for run_id in run_ids}
    if not run_ids:
        return out
    marks = ", ".join("?" * len(run_ids))
    sql = f"SELECT * FROM {{p}}run_scorers WHERE run_id IN ({marks}) ORDER BY run_id, scorer_index"
    for row in view.query(sql, tuple(run_ids)):
        out[row["run_id"]].append(row)
    return out


def names(view: EvalsView, table: str, ids: Sequence[str]) -> dict[str, str]:
    """The names of rows of ``table`` (datasets, deployments, prompts, scorers) of the project, by id."""
    if table not in ("datasets", "deployments", "prompts", "scorers") or not ids:
        return {}
    where, scope = _in_project()
    marks = ", ".join("?" * len(ids))
    sql = f"SELECT id, name FROM {{p}}{table} WHERE id IN ({marks})" + where
    return {row["id"]: row["name"] for row in view.query(sql, (*ids, *scope))}


def version_number(view: EvalsView, version_id: str) -> int | None:
    """A dataset version's number (None: not of the project)."""
    where, scope = _in_project()
    rows = view.query("SELECT number FROM {p}dataset_versions WHERE id = ?" + where, (version_id, *scope))
    return int(rows[0]["number"]) if rows else None


def project_versions(view: EvalsView) -> list[Row]:
    """Every dataset version of the project's active datasets (id, dataset id, number, items), newest first."""
    where, scope = _in_project("v.project_id")
    sql = (
        "SELECT v.id, v.dataset_id, v.number, v.n_items, v.created_at FROM {p}dataset_versions v "
        "JOIN {p}datasets d ON d.id = v.dataset_id WHERE d.archived = 0" + where + " ORDER BY v.dataset_id, "
        "v.number DESC"
    )
    return [_decode(row) for row in view.query(sql, scope)]


def project_prompt_versions(view: EvalsView) -> list[Row]:
    """Every prompt version of the project (id, prompt id, number, model), newest first per prompt."""
    where, scope = _in_project()
    sql = "SELECT id, prompt_id, number, model FROM {p}prompt_versions WHERE 1 = 1" + where
    return [_decode(row) for row in view.query(sql + " ORDER BY prompt_id, number DESC", scope)]


def first_run_items(view: EvalsView, run_id: str, dataset_item_ids: Sequence[str]) -> dict[str, str]:
    """The first run item (lowest position: repetition 0) of each of these dataset items in one run, by dataset
    item id (the run must be of the project: callers took it from the project's runs)."""
    if not dataset_item_ids:
        return {}
    marks = ", ".join("?" * len(dataset_item_ids))
    sql = (
        f"SELECT id, dataset_item_id, position FROM {{p}}run_items WHERE run_id = ? AND dataset_item_id IN ({marks}) "
        "ORDER BY position"
    )
    out: dict[str, str] = {}
    for row in view.query(sql, (run_id, *dataset_item_ids)):
        out.setdefault(row["dataset_item_id"], row["id"])
    return out
