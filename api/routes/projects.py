"""Projects: the tenancy unit every resource belongs to (``/api/v1/projects``, outside any one project)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from agnt5_evals.api.deps import ServicesDep, principal_of
from agnt5_evals.api.envelope import Data, Page
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas import Schema, Timestamp, examples
from agnt5_evals.domain.errors import Forbidden, NotFound
from agnt5_evals.services import projects

router = Router(tags=["projects"])


class Project(Schema):
    """A project (``default`` always exists; it was not created, so it has no ``created_at``)."""

    model_config = examples({"id": "team-a", "name": "Team A", "created_at": "2026-11-27T13:40:53.076406+00:00"})
    id: str
    name: str
    created_at: Timestamp | None


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    id: str = Field("", description="a slug (lowercase letters, digits, - and _) or a UUID; default: a new UUID")


@router.get("/projects", response_model=Page[Project])
def list_projects(request: Request, svc: ServicesDep) -> dict[str, Any]:
    """The projects this caller reaches: a key, its own; local use, every project."""
    principal = principal_of(request)
    rows = projects.list_projects(svc)
    if principal.key_id is not None:
        rows = [row for row in rows if row["id"] == principal.project_id]
    return {"data": rows, "count": len(rows), "next_cursor": None}


@router.get("/projects/{project_id}", response_model=Data[Project])
def get_project(project_id: str, request: Request, svc: ServicesDep) -> dict[str, Any]:
    """One project (another key's project: not found)."""
    principal = principal_of(request)
    if principal.key_id is not None and principal.project_id != project_id:
        raise NotFound(f"project {project_id} not found", field="project_id")
    return {"data": projects.get_project(svc, project_id)}


@router.post("/projects", status_code=201, response_model=Data[Project])
def create_project(body: ProjectIn, request: Request, svc: ServicesDep) -> dict[str, Any]:
    """Create a project (the server's owner only: local use without a key, or ``agnt5 projects create``)."""
    if principal_of(request).key_id is not None:
        raise Forbidden("a key reaches its own project only; projects are created by the server's owner "
                        "(agnt5 projects create on the server)")  # fmt: skip
    return {"data": projects.create_project(svc, body.name, body.id)}
