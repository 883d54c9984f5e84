"""The response body of the audit routes: stored events as the log holds them."""

from __future__ import annotations

from typing import Any

from agnt5_evals.api.schemas import Schema, examples


class AuditEvent(Schema):
    """One stored event: log position, time, topic, aggregate id and version, payload as recorded."""

    position: int
    timestamp: str | None
    topic: str
    originator_id: str
    originator_version: int
    payload: dict[str, Any]

    model_config = examples(
        {
            "position": 25,
            "timestamp": "2026-11-27T13:22:14.469984+00:00",
            "topic": "agnt5_evals.domain.runs:Run.Completed",
            "originator_id": "25912859-e75e-483d-8a6e-a6d057ebb523",
            "originator_version": 3,
            "payload": {},
        }
    )


class Mismatch(Schema):
    """The first stored event that does not match the log's digests."""

    position: int | None
    topic: str
    originator_id: str
    originator_version: int
    problem: str

    model_config = examples(
        {
            "position": 31,
            "topic": "agnt5_evals.domain.runs:RunChunk.ItemsRecorded",
            "originator_id": "5b0f3a52-1c55-5c0e-9d3f-2f1d0c7e9a10",
            "originator_version": 2,
            "problem": "its item 3 (position 403) does not match the digest recorded when it was saved",
        }
    )


class Unchained(Schema):
    """A run, rescore or dataset version recorded before digests existed (nothing to check)."""

    kind: str
    id: str
    why: str

    model_config = examples(
        {"kind": "run", "id": "25912859-e75e-483d-8a6e-a6d057ebb523", "why": "recorded before hash chains"}
    )


class Verification(Schema):
    """What `audit verify` recomputed from the log, and the first mismatch if any."""

    ok: bool
    scope: str
    checked: dict[str, int]
    unchained: list[Unchained]
    digests: dict[str, str]
    mismatch: Mismatch | None

    model_config = examples(
        {
            "ok": True,
            "scope": "run 25912859-e75e-483d-8a6e-a6d057ebb523",
            "checked": {"runs": 1, "dataset_versions": 1, "chunks": 1, "items": 10},
            "unchained": [],
            "digests": {"25912859-e75e-483d-8a6e-a6d057ebb523": "9f2c...e1"},
            "mismatch": None,
        }
    )
