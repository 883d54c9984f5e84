"""Dependencies shared by the routes: the stores, who is asking, and the project a request acts in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, Principal, Scope, check_project_id, enter_project
from agnt5_evals.services import projects

if TYPE_CHECKING:
    from agnt5_evals.api.auth import ServerConfig


def get_services(request: Request) -> Services:
    """The server's stores. A request never catches the read model up (reads never write): a command catches up
    its own events, and the server's background thread those of other processes (workers)."""
    services: Services = request.app.state.services
    return services


async def _services(request: Request) -> Services:
    """``get_services`` as a dependency: async, as it does no I/O (a sync one is a trip through the thread pool)."""
    return get_services(request)


ServicesDep = Annotated[Services, Depends(_services)]


def server_config(request: Request) -> ServerConfig:
    """What the server enforces (``api.auth.ServerConfig``), as ``create_app`` was given it."""
    config: ServerConfig = request.app.state.server_config
    return config


def principal_of(request: Request) -> Principal:
    """Who the request acts as: what authentication found (``request.state.principal``), else local use: the
    default project, every scope."""
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else Principal(DEFAULT_PROJECT, Scope.admin)


async def in_project(request: Request, project_id: str) -> None:
    """A ``/projects/{project_id}`` route acts in that project: one a key does not reach is not found.

    Async on purpose: the project is set in the request's task, which the handler's thread inherits.
    """
    check_project_id(project_id)
    principal = principal_of(request)
    if principal.key_id is not None and principal.project_id != project_id:
        raise NotFound(f"project {project_id} not found", field="project_id")
    await run_in_threadpool(projects.get_project, get_services(request), project_id)  # an unknown one: 404
    enter_project(project_id)


async def in_own_project(request: Request) -> None:
    """A route without a project in its path acts in the key's project (local use: the default project)."""
    enter_project(principal_of(request).project_id)
