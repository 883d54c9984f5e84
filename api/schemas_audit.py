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
