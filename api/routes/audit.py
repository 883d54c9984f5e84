"""The event log itself, in order (the same rows as `agnt5 audit events`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas_audit import AuditEvent, Verification
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.services.audit import AuditFilter, events
from agnt5_evals.services.verify import verify

router = Router(tags=["audit"])
MAX_PAGE = 10_000


@router.get("/audit/events", response_model=list[AuditEvent])
def audit_events(
    svc: ServicesDep,
    run_id: str = "",
    experiment_id: str = "",
    dataset_id: str = "",
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # a position the store can compare (no overflow)
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
) -> list[dict[str, Any]]:
    """The event log in order (or one run's, experiment's or dataset's events); page with after=last position."""
    # The page is built whole (the envelope of the project routes, a problem body on an error): a run chunk's event
    # holds up to 1 MiB of items, so a client pages with a modest limit (the CLI asks for 200 events at a time).
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


@router.get("/audit/verify", response_model=Verification)
def audit_verify(svc: ServicesDep, run_id: str = "") -> dict[str, Any]:
    """Recompute the digests of one run (with its rescores and dataset version) or of the whole log."""
    return verify(svc, parse_uuid(run_id, "run_id") if run_id else None)
