"""Application commands for API keys (domain/keys.py): create, list, revoke, and authenticate a presented key."""

from __future__ import annotations

from uuid import UUID

from agnt5_evals.domain.app_base import BaseApplication, Written
from agnt5_evals.domain.errors import Conflict, NotFound, Unauthorized
from agnt5_evals.domain.keys import (
    BAD_KEY,
    ApiKey,
    KeyRing,
    check_scope,
    new_secret,
    parse_token,
    secret_hash,
    token_of,
)
from agnt5_evals.domain.tenancy import Principal, check_project_id
from agnt5_evals.domain.text_rules import check_name

SAVE_ATTEMPTS = 5


class KeyCommands(BaseApplication):
    """A project's API keys. Every read of a key comes from its own stream in the log (no view): a revoked key is
    refused from the moment the revocation is saved."""

    def create_key(self, project_id: str, scope: str, name: str = "") -> tuple[Written, str, ApiKey]:
        """Make a key; returns what was written, the key as shown once (``agnt5_sk_...``) and the stored key."""
        check_project_id(project_id, "project_id")
        level = check_scope(scope)
        label = check_name(name) if isinstance(name, str) and name.strip() else ""
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            ring = self._ring(project_id)
            secret = new_secret()
            key = ApiKey(project_id=project_id, scope=level.value, name=label, secret_sha256=secret_hash(secret))
            ring.add(key.id)
            try:
                return Written(key.id, self._save(ring, key)), token_of(key.id, secret), key
            except Conflict:  # another key of the project was added at the same time: read the ring again
                if attempt == SAVE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _ring(self, project_id: str) -> KeyRing:
        try:
            return self.get(KeyRing, KeyRing.create_id(project_id), "key ring")
        except NotFound:
            return KeyRing(project_id=project_id)

    def api_key(self, key_id: UUID) -> ApiKey:
        """A key as the log has it now (revoked or not)."""
        return self.get(ApiKey, key_id, "key", field="key_id")

    def project_keys(self, project_id: str) -> list[ApiKey]:
        """A project's keys, oldest first: one stream for the ring, then one per key."""
        try:
            ring = self.get(KeyRing, KeyRing.create_id(check_project_id(project_id)), "key ring")
        except NotFound:
            return []
        return [self.api_key(key_id) for key_id in ring.key_ids]

    def revoke_key(self, key_id: UUID) -> tuple[Written, ApiKey]:
        """Revoke a key; revoking a revoked key changes nothing."""
        key = self.api_key(key_id)
        if key.revoked:
            return Written(key.id, 0), key
        key.revoke()
        return Written(key.id, self._save(key)), key

    def authenticate(self, token: str) -> Principal:
        """Who a presented key acts as; ``Unauthorized`` with one neutral message whatever is wrong with it."""
        key_id, secret = parse_token(token)
        try:
            key = self.api_key(key_id)
        except NotFound:
            secret_hash(secret)  # about the same work as for a key that exists
            raise Unauthorized(BAD_KEY) from None
        return key.principal(secret)
