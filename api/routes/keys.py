"""API keys of the project a request acts in (admin keys only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas import Schema, examples
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, current_project
from agnt5_evals.services import keys

router = Router(tags=["keys"])


class KeyIn(BaseModel):
    scope: str = Field(description="read, write or admin")
    name: str = ""


KEY_ROW = {"id": "0b7f6c1e-5d1a-4a57-9d6c-2f1b9e3f4a10", "project_id": "default", "scope": "write", "name": "ci",
           "created_at": "2026-11-27T13:40:53.076406+00:00", "revoked": False}  # fmt: skip
SECRET = "agnt5_sk_0b7f6c1e5d1a4a579d6c2f1b9e3f4a10" + "x" * 43


class Key(Schema):
    """An API key as listed: never its secret."""

    model_config = examples(KEY_ROW)
    id: str
    project_id: str
    scope: str = Field(description="read, write or admin")
    name: str
    created_at: str
    revoked: bool = Field(description="a revoked key authenticates nothing")


class KeyCreated(Schema):
    """A new API key: ``key`` is its secret, in this answer only (the store keeps a hash of it)."""

    model_config = examples({**{k: v for k, v in KEY_ROW.items() if k != "revoked"}, "key": SECRET})
    id: str
    key: str
    project_id: str
    scope: str
    name: str
    created_at: str


def _project() -> str:
    return current_project() or DEFAULT_PROJECT


@router.post("/keys", status_code=201, response_model=KeyCreated)
def create_key(body: KeyIn, svc: ServicesDep) -> dict[str, Any]:
    """Make an API key of this project; its secret (``key``) is in this answer only."""
    return keys.create_key(svc, _project(), body.scope, body.name)


@router.get("/keys", response_model=list[Key])
def list_keys(svc: ServicesDep) -> list[dict[str, Any]]:
    """This project's keys, revoked ones too (never a secret)."""
    return keys.list_keys(svc, _project())


@router.post("/keys/{key_id}/revoke", response_model=Key)
def revoke_key(key_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Revoke a key of this project: every request with it is refused from now on."""
    return keys.revoke_key(svc, parse_uuid(key_id, "key_id"))
