"""Projects: create, list and show them. Every resource belongs to one (``domain.tenancy``); ``default`` always
exists, without being created."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, check_project_id
from agnt5_evals.projections import queries

DEFAULT_ROW = {"id": DEFAULT_PROJECT, "name": "Default project", "created_at": None}


def create_project(svc: Services, name: str, project_id: str = "") -> dict[str, Any]:
    """Create a project: ``project_id`` a slug or a UUID string, or else a new UUID; returns its row."""
    project_id = check_project_id(project_id, "id") if project_id else str(uuid4())
    written = svc.app.create_project(project_id, name)
    svc.wait_for(written.position)
    return get_project(svc, project_id)


def list_projects(svc: Services) -> list[dict[str, Any]]:
    """Every project, ``default`` first."""
    rows = queries.projects(svc.view)
    return [dict(DEFAULT_ROW), *rows]


def get_project(svc: Services, project_id: str) -> dict[str, Any]:
    """A project's row (``default`` always exists); an unknown project is not found."""
    if project_id == DEFAULT_PROJECT:
        return dict(DEFAULT_ROW)
    try:
        return queries.project(svc.view, project_id)
    except NotFound:
        raise NotFound(f"project {project_id} not found", field="project_id") from None
