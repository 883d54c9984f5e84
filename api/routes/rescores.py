"""Rescoring a completed run (both paths of the reference: ``/eval/runs/...`` and ``/experiments/.../runs/...``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.progress import EVENT_STREAM, EventStream, progress_events, stream
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas_rescores import Rescore, RescoreEntry
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.projections import queries
from agnt5_evals.services import operations, runs
from agnt5_evals.services.definitions import scorers_from

router = Router(tags=["rescores"])


class RescoreIn(BaseModel):
    reason: str = ""
    replace_latest: StrictBool = False  # 0, 1, "true" are refused: a boolean is true or false
    scorer_version_ids: list[str] = Field(default_factory=list)  # custom scorer ids (scorers have no versions here)
    scorers: list[str | dict[str, Any]] = Field(default_factory=list)  # built-ins, as in experiment create
    run_item_ids: list[str] = Field(default_factory=list)
    idempotency_key: str = ""


def _rescore(run_id: str, body: RescoreIn, svc: ServicesDep) -> dict[str, Any]:
    rid = str(parse_uuid(run_id, "run_id"))
    chosen = [str(parse_uuid(item, "run_item_ids")) for item in body.run_item_ids]
    builtin = [s if isinstance(s, str) else json.dumps(s) for s in body.scorers]
    scorers = scorers_from(svc, builtin, body.scorer_version_ids) if builtin or body.scorer_version_ids else None
    return operations.start_rescore(svc, rid, scorers, chosen, body.reason, body.replace_latest, body.idempotency_key)


@router.post("/eval/runs/{run_id}/rescore", status_code=202, response_model=Rescore)
def rescore(run_id: str, body: RescoreIn, svc: ServicesDep) -> dict[str, Any]:
    """Score a completed run's recorded outputs again in a worker (default: the run's own scorers)."""
    return _rescore(run_id, body, svc)


@router.post("/experiments/{experiment_id}/runs/{run_id}/rescore", status_code=202, response_model=Rescore)
def rescore_of_experiment(experiment_id: str, run_id: str, body: RescoreIn, svc: ServicesDep) -> dict[str, Any]:
    """The same, under the experiment (the older path of the reference)."""
    run = queries.run(svc.view, str(parse_uuid(run_id, "run_id")))
    if run["experiment_id"] != str(parse_uuid(experiment_id, "experiment_id")):
        raise NotFound(f"run {run_id} is not a run of experiment {experiment_id}")
    return _rescore(run_id, body, svc)


@router.get("/runs/{run_id}/rescores", response_model=list[RescoreEntry])
def rescores(run_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    """A run's rescores."""
    return queries.rescores(svc.view, str(parse_uuid(run_id, "run_id")))


@router.get("/rescores/{rescore_id}", response_model=Rescore)
def get_rescore(rescore_id: str, svc: ServicesDep) -> dict[str, Any]:
    """One rescore: counts, per-scorer aggregates of its scores, the items whose status changed."""
    return operations.rescore_summary(svc, str(parse_uuid(rescore_id, "rescore_id")))


@router.get(
    "/rescores/{rescore_id}/progress", response_model=Rescore, response_class=EventStream, responses=EVENT_STREAM
)
async def progress(
    rescore_id: str, svc: ServicesDep, timeout: Annotated[float | None, Query(ge=0, le=7 * 86400)] = None
) -> EventStream:
    """Live progress of a rescore as server-sent events, ending with the rescore."""
    rid = str(parse_uuid(rescore_id, "rescore_id"))
    first = await run_in_threadpool(operations.rescore_progress, svc, rid)
    look, final = (lambda: operations.rescore_progress(svc, rid)), (lambda: operations.rescore_summary(svc, rid))
    events = progress_events(look, final, first, timeout, done=lambda row: row["status"] != "running")
    return stream(events)


@router.post("/rescores/{rescore_id}/cancel", response_model=Rescore)
def cancel_rescore(rescore_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Cancel a running rescore; what it recorded stays."""
    return runs.cancel_rescore(svc, parse_uuid(rescore_id, "rescore_id"))
