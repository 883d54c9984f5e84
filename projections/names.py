"""Resolving a reference (an id, a name, a version number) to an id, in the current project only.

The lookup reads the rows that bear a name (or a version's number under its parent) in the current project
(``tenancy.current_project``): another project's rows are never candidates, so its names are not found. The rule
choosing among the candidates is ``domain.names``.
"""

from __future__ import annotations

from typing import Any

from agnt5_evals.domain import names
from agnt5_evals.domain.tenancy import current_project
from agnt5_evals.projections.views import EvalsView, Row

_TABLES = {"dataset": "datasets", "experiment": "experiments", "deployment": "deployments", "scorer": "scorers",
           "prompt": "prompts", "run": "runs", "dataset_version": "dataset_versions",
           "experiment_version": "experiment_versions", "prompt_version": "prompt_versions"}  # fmt: skip
_ARCHIVABLE = ("dataset", "experiment", "deployment")


def resolve(view: EvalsView, kind: str, ref: str, field: str, parent: str = "") -> str:
    """The id ``ref`` stands for: itself when it parses as a UUID, else the one ``kind`` of that name (a version:
    of that number under ``parent``, the parent's id) in the current project. NotFound or Invalid naming ``field``.
    """
    text = names.check_ref(kind, ref, field)
    ident = names.as_id(text)
    if ident is not None:
        return ident
    if kind in names.VERSIONS:
        number = names.version_number(kind, text, field)
        parent_id = names.as_id(parent) or ""
        return names.pick(kind, text, _versions(view, kind, parent_id, number), field)
    return names.pick(kind, text, candidates(view, kind, text), field)


def candidates(view: EvalsView, kind: str, name: str) -> list[Row]:
    """The current project's rows of ``kind`` named ``name`` (archived ones too), oldest first."""
    table = _TABLES[kind]
    columns = "t.id, t.created_at" + (", t.archived" if kind in _ARCHIVABLE else "")
    sql = f"SELECT {columns} FROM {{p}}{table} t WHERE t.name = ?"
    if kind == "run":  # a run's name is unique nowhere: the listing names each one's experiment
        columns += ", t.experiment_id, e.name AS experiment_name"
        sql = f"SELECT {columns} FROM {{p}}runs t JOIN {{p}}experiments e ON e.id = t.experiment_id WHERE t.name = ?"
    params: list[Any] = [name]
    project = current_project()
    if project is not None:
        sql += " AND t.project_id = ?"
        params.append(project)
    return view.query(sql + " ORDER BY t.created_at, t.id", tuple(params))


def _versions(view: EvalsView, kind: str, parent_id: str, number: int) -> list[Row]:
    parent_column = names.VERSIONS[kind] + "_id"
    sql = f"SELECT id, created_at FROM {{p}}{_TABLES[kind]} WHERE {parent_column} = ? AND number = ?"
    params: list[Any] = [parent_id, number]
    project = current_project()
    if project is not None:
        sql += " AND project_id = ?"
        params.append(project)
    return view.query(sql, tuple(params))
