"""API keys: make one (shown once), list a project's, revoke one, and authenticate a presented key."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.domain.tenancy import Principal, check_project_id, visible


def _check_project(svc: Services, project_id: str) -> str:
    """The project a key is made for, checked: the one place that decides whether the project may get keys (today:
    a well-formed project id)."""
    del svc
    return check_project_id(project_id, "project_id")


def create_key(svc: Services, project_id: str, scope: str, name: str = "") -> dict[str, Any]:
    """Make a key of ``project_id`` with ``scope`` (read, write or admin); the answer's ``key`` is the only time
    the secret is shown (the log keeps a hash of it)."""
    _check_project(svc, project_id)
    _written, token, key = svc.app.create_key(project_id, scope, name)
    row = key.row()
    return {"id": row["id"], "key": token, "project_id": row["project_id"], "scope": row["scope"],
            "name": row["name"], "created_at": row["created_at"]}  # fmt: skip


def list_keys(svc: Services, project_id: str) -> list[dict[str, Any]]:
    """A project's keys, oldest first, revoked ones too (never a secret)."""
    check_project_id(project_id, "project_id")
    return [key.row() for key in svc.app.project_keys(project_id)]


def revoke_key(svc: Services, key_id: UUID) -> dict[str, Any]:
    """Revoke a key: from now on it authenticates nothing. A key of another project than the one acted in is not
    found."""
    key = svc.app.api_key(key_id)
    if not visible(key.project_id):
        raise NotFound(f"key {key_id} not found", field="key_id")
    _written, key = svc.app.revoke_key(key_id)
    return key.row()


def authenticate(svc: Services, token: str) -> Principal:
    """Who a presented key acts as; ``Unauthorized`` with a neutral message when it is not a valid, live key."""
    return svc.app.authenticate(token)
