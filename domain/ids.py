"""Deterministic ids: duplicates collide in the event store instead of being policed in code."""

from __future__ import annotations

import hashlib
from uuid import NAMESPACE_URL, UUID, uuid5

NAMESPACE = uuid5(NAMESPACE_URL, "https://agnt5-evals/ids")


def dataset_version_id(dataset_id: UUID, number: int) -> UUID:
    return uuid5(dataset_id, f"version-{number}")


def upload_chunk_id(upload_id: UUID, index: int) -> UUID:
    return uuid5(upload_id, f"chunk-{index}")


def experiment_version_id(experiment_id: UUID, number: int) -> UUID:
    return uuid5(experiment_id, f"version-{number}")


def run_chunk_id(run_id: UUID, chunk_no: int) -> UUID:
    return uuid5(run_id, f"chunk-{chunk_no}")


def run_item_id(run_id: UUID, dataset_item_id: str, repetition: int) -> UUID:
    return uuid5(run_id, f"item-{dataset_item_id}-{repetition}")


def score_id(run_item: UUID, index: int, scorer: str) -> UUID:
    return uuid5(run_item, f"score-{index}-{scorer}")


def uuid5_str(namespace: UUID, name: str) -> str:
    """``str(uuid5(namespace, name))`` without building UUID objects (it runs for every item and score)."""
    return _uuid5_str(namespace.bytes, name)


def _uuid5_str(namespace: bytes, name: str) -> str:
    digest = bytearray(hashlib.sha1(namespace + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def run_item_id_str(run_id: UUID, dataset_item_id: str, repetition: int) -> str:
    return uuid5_str(run_id, f"item-{dataset_item_id}-{repetition}")


def score_id_str(run_item: str, index: int, scorer: str) -> str:
    """``str(score_id(UUID(run_item), index, scorer))``, reading the usual spelling of a UUID without building one."""
    namespace = bytes.fromhex(run_item.replace("-", "")) if len(run_item) == 36 else b""
    return _uuid5_str(namespace if len(namespace) == 16 else UUID(run_item).bytes, f"score-{index}-{scorer}")


def parse_uuid(value: str, field: str) -> UUID:
    """Parse a user-supplied id, naming the field when it is not a UUID."""
    from agnt5_evals.domain.errors import Invalid

    try:
        return UUID(str(value))
    except ValueError:
        raise Invalid(f"{value!r} is not a valid id (expected a UUID)", field=field) from None


def prompt_version_id(prompt_id: UUID, number: int) -> UUID:
    return uuid5(prompt_id, f"version-{number}")


def bundle_id(digest: str) -> UUID:
    """A code bundle's id: its content digest decides it, so the same tree is stored once."""
    return uuid5(NAMESPACE, f"bundle-{digest}")


def bundle_chunk_id(digest: str, index: int, data: str) -> UUID:
    """A bundle chunk's id names its content too: a retry reuses a chunk only if it holds the same bytes."""
    return uuid5(NAMESPACE, f"bundle-{digest}-chunk-{index}-{hashlib.sha256(data.encode()).hexdigest()}")
