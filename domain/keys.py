"""API keys: a project's keys, each with a scope, stored as a hash of its secret, and the ring listing them.

A key reads ``agnt5_sk_<key id, 32 hex digits><secret>``: the id finds the key's stream in O(1) and the secret,
256 random bits from :mod:`secrets`, proves it. Only the SHA-256 of the secret is recorded: a fast hash is enough for
a secret this random (no dictionary to try), and it keeps checking a key cheap. The secret itself is shown once,
when the key is made, and never written anywhere.

Module and class names are event topics: do not rename.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from agnt5_evals.domain.errors import Conflict, Invalid, Unauthorized
from agnt5_evals.domain.ids import NAMESPACE
from agnt5_evals.domain.tenancy import KEY_PREFIX, Principal, Scope

SECRET_BYTES = 32
_ID_HEX = 32
BAD_KEY = "invalid API key"
"""The one message of every refused key: it never says whether the key exists, was revoked or is malformed."""


def secret_hash(secret: str) -> str:
    """The SHA-256 hex digest of a key's secret (what the log stores)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def token_of(key_id: UUID, secret: str) -> str:
    """The key as shown once: the prefix, the key's id and its secret."""
    return f"{KEY_PREFIX}{key_id.hex}{secret}"


def parse_token(token: str) -> tuple[UUID, str]:
    """The key id and the secret of a presented key, or ``Unauthorized`` (the neutral message) when malformed."""
    text = token.strip() if isinstance(token, str) else ""
    body = text.removeprefix(KEY_PREFIX)
    if not text.startswith(KEY_PREFIX) or len(body) <= _ID_HEX or len(body) > 200:
        raise Unauthorized(BAD_KEY)
    try:
        return UUID(hex=body[:_ID_HEX]), body[_ID_HEX:]
    except ValueError:
        raise Unauthorized(BAD_KEY) from None


def check_scope(value: object, field: str = "scope") -> Scope:
    """A scope by its name (read, write or admin), or ``Invalid`` naming ``field``."""
    try:
        return Scope(str(value))
    except ValueError:
        raise Invalid(f"must be one of {', '.join(Scope)}, got {value!r}", field=field) from None


class ApiKey(Aggregate):
    """One API key of a project: its scope, name and secret's hash; once revoked it authenticates nothing."""

    @event("Created")
    def __init__(self, project_id: str, scope: str, name: str, secret_sha256: str) -> None:
        self.project_id = project_id
        self.scope = scope
        self.name = name
        self.secret_sha256 = secret_sha256
        self.revoked = False

    def check_revocable(self) -> None:
        if self.revoked:
            raise Conflict(f"key {self.id} is revoked already")

    @event("Revoked")
    def revoke(self) -> None:
        self.revoked = True

    def principal(self, secret: str) -> Principal:
        """Who this key acts as, when ``secret`` is its secret and it is not revoked; else ``Unauthorized``."""
        matches = hmac.compare_digest(self.secret_sha256, secret_hash(secret))
        if not matches or self.revoked:
            raise Unauthorized(BAD_KEY)
        return Principal(self.project_id, Scope(self.scope), str(self.id))

    def row(self) -> dict[str, object]:
        """The key as listed: never its secret, nor its hash."""
        created: datetime = self.created_on
        return {"id": str(self.id), "project_id": self.project_id, "scope": self.scope, "name": self.name,
                "created_at": created.isoformat(), "revoked": self.revoked}  # fmt: skip


class KeyRing(Aggregate):
    """The ids of a project's keys, so that listing them reads one stream, not the log."""

    @staticmethod
    def create_id(project_id: str) -> UUID:
        return uuid5(NAMESPACE, f"key-ring-{project_id}")

    @event("Created")
    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        self.key_ids: list[UUID] = []

    @event("KeyAdded")
    def add(self, key_id: UUID) -> None:
        self.key_ids.append(key_id)
