"""Run and rescore use cases beyond starting them (see ``operations``): cancel, and failures."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.projections import queries
from agnt5_evals.services import operations


def cancel_run(svc: Services, run_id: UUID, experiment_id: UUID | None = None) -> dict[str, Any]:
    """Cancel a running run (of ``experiment_id`` if given); what finished is kept. Returns its summary."""
    written = svc.app.cancel_run(run_id, experiment_id=experiment_id)
    svc.wait_for(written.position)
    return operations.summary(svc, str(written.id))


def cancel_rescore(svc: Services, rescore_id: UUID) -> dict[str, Any]:
    """Cancel a running rescore; what it recorded stays. Returns the rescore's summary."""
    written = svc.app.cancel_rescore(rescore_id)
    svc.wait_for(written.position)
    return operations.rescore_summary(svc, str(written.id))


def failures(svc: Services, run_id: str) -> list[dict[str, Any]]:
    """A run's failed and errored items, with their scores (the run must exist)."""
    queries.run(svc.view, run_id)
    return queries.run_items(svc.view, run_id, ("failed", "errored"))
