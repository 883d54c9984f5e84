"""The event log itself, in order (the same rows as `agnt5 audit events`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.services.audit import AuditFilter, events

router = APIRouter(tags=["audit"])
MAX_PAGE = 10_000


class AuditEvent(BaseModel):
    """One stored event: log position, time, topic, aggregate id and version, payload as recorded."""

    position: int
    timestamp: str | None
    topic: str
    originator_id: str
    originator_version: int
    payload: dict[str, Any]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "position": 25,
                    "timestamp": "2026-11-27T13:22:14.469984+00:00",
                    "topic": "agnt5_evals.domain.runs:Run.Completed",
                    "originator_id": "25912859-e75e-483d-8a6e-a6d057ebb523",
                    "originator_version": 3,
                    "payload": {},
                }
            ]
        }
    )


@router.get("/audit/events", response_model=list[AuditEvent])
def audit_events(
    svc: ServicesDep,
    run_id: str = "",
    experiment_id: str = "",
    dataset_id: str = "",
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
) -> list[dict[str, Any]]:
    """The log in order, after a position, optionally one run's, experiment's or dataset's events; page with
    ``after`` = the last position returned."""
    spec = AuditFilter(
        run_id=parse_uuid(run_id, "run_id") if run_id else None,
        experiment_id=parse_uuid(experiment_id, "experiment_id") if experiment_id else None,
        dataset_id=parse_uuid(dataset_id, "dataset_id") if dataset_id else None,
        after=after,
        limit=limit,
    )
    rows = list(events(svc, spec))
    for row in rows:  # the same JSON as the CLI's: ISO times, ids as strings
        row["timestamp"] = row["timestamp"].isoformat() if row["timestamp"] is not None else None
    return rows
