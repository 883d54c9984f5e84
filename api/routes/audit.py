"""The event log itself, in order (the same rows as `agnt5 audit events`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response, StreamingResponse

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas_audit import AuditEvent, Verification
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.services.audit import AuditFilter, events
from agnt5_evals.services.verify import verify

router = Router(tags=["audit"])
MAX_PAGE = 10_000
PIECE = 64 * 1024


@router.get("/audit/events", response_model=list[AuditEvent])
def audit_events(
    svc: ServicesDep,
    run_id: str = "",
    experiment_id: str = "",
    dataset_id: str = "",
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # a position the store can compare (no overflow)
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
) -> Response:
    """The event log in order (or one run's, experiment's or dataset's events); page with after=last position."""
    # streamed as it is read: a run chunk's event holds up to 1 MiB of items, a page of 10,000 is never held whole
    spec = AuditFilter(
        run_id=parse_uuid(run_id, "run_id") if run_id else None,
        experiment_id=parse_uuid(experiment_id, "experiment_id") if experiment_id else None,
        dataset_id=parse_uuid(dataset_id, "dataset_id") if dataset_id else None,
        after=after,
        limit=limit,
    )
    rows = events(svc, spec)
    first = next(rows, None)  # another project's run, experiment or dataset is refused before the body starts
    return StreamingResponse(_json_array(first, rows), media_type="application/json")


def _json_array(first: dict[str, Any] | None, rest: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """The rows as one JSON array, each as ``AuditEvent`` serialises it, in pieces of about ``PIECE`` bytes."""
    if first is None:
        yield b"[]"
        return
    piece = bytearray(b"[")
    for n, row in enumerate(itertools.chain((first,), rest)):
        row["timestamp"] = row["timestamp"].isoformat() if row["timestamp"] is not None else None  # as the CLI's
        if n:
            piece += b","
        piece += AuditEvent.model_validate(row).model_dump_json().encode()
        if len(piece) >= PIECE:
            yield bytes(piece)
            piece.clear()
    piece += b"]"
    yield bytes(piece)


@router.get("/audit/verify", response_model=Verification)
def audit_verify(svc: ServicesDep, run_id: str = "") -> dict[str, Any]:
    """Recompute the digests of one run (with its rescores and dataset version) or of the whole log."""
    return verify(svc, parse_uuid(run_id, "run_id") if run_id else None)
