"""Run summaries, items, failures, the gate, cancel and compare."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from agnt5_evals.api.bodies import json_rows, plan
from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.progress import EVENT_STREAM, EventStream, progress_events, stream
from agnt5_evals.api.routes import Router, short
from agnt5_evals.api.schemas import (
    ExportItem,
    ExportRow,
    Failure,
    GateVerdict,
    RegressionDataset,
    RunItem,
    RunSummary,
)
from agnt5_evals.api.schemas_compare import Comparison, FlakyReport
from agnt5_evals.domain.exports import MEDIA_TYPES
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.projections import queries
from agnt5_evals.services import compare, exports, gates, operations, runs

router = Router(tags=["runs"])
AFTER = "the cursor: only the items after this position (the last `position` of the page before)"
AFTER_MAX = 2**62  # inside the store's 64-bit integers
PLANS = plan(RunItem), plan(Failure)  # made at import: a model api.bodies cannot write fails here, not on a request


def _after(after: int | None) -> int:
    return -1 if after is None else after


def _id(value: str, field: str = "run_id") -> str:
    return str(parse_uuid(value, field))


@router.read("/runs/{run_id}", response_model=RunSummary, response_model_exclude_unset=True)
def get_run(run_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Status, pass rate, gate and per-scorer aggregates."""
    return operations.summary(svc, _id(run_id))


@router.get("/runs/{run_id}/progress", response_model=RunSummary, response_class=EventStream, responses=EVENT_STREAM)
async def progress(
    run_id: str, svc: ServicesDep, timeout: Annotated[float | None, Query(ge=0, le=7 * 86400)] = None
) -> EventStream:
    """Live progress as server-sent events (api.progress), ending with the full summary."""
    rid = _id(run_id)
    first = await run_in_threadpool(operations.summary, svc, rid, False)
    events = progress_events(lambda: operations.run_progress(svc, rid), lambda: operations.summary(svc, rid),
                             first, timeout)  # fmt: skip
    return stream(events)


@router.read("/runs/{run_id}/items", response_model=list[RunItem], bounded=short("limit"))
def run_items(
    run_id: str,
    svc: ServicesDep,
    status: str = "",
    limit: Annotated[int | None, Query(ge=0, le=1_000_000, description="the first N items")] = None,
    after: Annotated[int | None, Query(ge=0, le=AFTER_MAX, description=AFTER)] = None,
) -> Response:
    """A run's items with their scores (optionally only one status), in position order."""
    rid, view = _id(run_id), svc.view

    def read() -> list[dict[str, Any]]:
        queries.run(view, rid)
        return queries.run_items(view, rid, (status,) if status else (), limit, after=_after(after), raw=True)

    return json_rows(view.reading(read), RunItem)


@router.read("/runs/{run_id}/failures", response_model=list[Failure], bounded=short("limit"))
def failures(
    run_id: str,
    svc: ServicesDep,
    scorer: Annotated[str, Query(max_length=200, description="only the items this scorer failed")] = "",
    limit: Annotated[int | None, Query(ge=0, le=1_000_000, description="at most N items")] = None,
    after: Annotated[int | None, Query(ge=0, le=AFTER_MAX, description=AFTER)] = None,
) -> Response:
    """Failed and errored items with input, expected output, output and the scorers that failed them."""
    rid = _id(run_id)
    return json_rows(svc.view.reading(lambda: runs.failures(svc, rid, scorer, limit, _after(after), raw=True)), Failure)


def _export_content() -> dict[str, Any]:
    """The media types of an export, one per format: the JSON ones described by their record (``ExportItem``
    with ``layout=items``, ``ExportRow`` with ``layout=scores``)."""
    record = {"anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in ("ExportItem", "ExportRow")]}
    schemas = {"jsonl": record, "json": {"type": "array", "items": record}}
    return {media: {"schema": schemas.get(fmt, {"type": "string"})} for fmt, media in MEDIA_TYPES.items()}


@router.get("/runs/{run_id}/export", response_model=ExportItem | ExportRow, response_class=Response,
            responses={200: {"description": "the export file", "content": _export_content()}})  # fmt: skip
def export(
    run_id: str,
    svc: ServicesDep,
    format: Annotated[str, Query(description=f"one of {', '.join(MEDIA_TYPES)}")] = "jsonl",
    layout: Annotated[str, Query(description="items (one row per run item) or scores (per run item and scorer)")] = (
        "items"
    ),
    baseline: Annotated[str | None, Query(description="a run to compare with (markdown)")] = None,
) -> Response:
    """A run's results as a file: CSV, JSON lines, JSON, JUnit XML, Markdown or HTML (``reports export``)."""
    body, media_type = exports.stream_export(svc, _id(run_id), format, layout, baseline)  # tabular: a page at a time
    return StreamingResponse(body, media_type=media_type)


@router.read("/runs/{run_id}/gate", response_model=GateVerdict)
def gate(run_id: str, svc: ServicesDep) -> dict[str, Any]:
    """The CI verdict with each gate rule's numbers, and the CLI's exit code."""
    return gates.gate_verdict(svc, _id(run_id))


@router.post("/runs/{run_id}/cancel", response_model=RunSummary, response_model_exclude_unset=True)
def cancel(run_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Cancel a running run; what finished is kept."""
    return runs.cancel_run(svc, parse_uuid(run_id, "run_id"))


class RerunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("", description="the new run's name (default: the source's name + -rerun)")


@router.post("/runs/{run_id}/rerun", status_code=202, response_model=RunSummary, response_model_exclude_unset=True)
def rerun(run_id: str, svc: ServicesDep, body: RerunIn | None = None) -> dict[str, Any]:
    """Start a new run of what a run ran (same versions, config and deployment), linked to it."""
    return operations.rerun_run(svc, parse_uuid(run_id, "run_id"), body.name if body else "")


class RegressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    run_item_ids: list[str] = Field(default_factory=list, description="only these items (default: the failed ones)")
    start_run: StrictBool = False
    deployment_id: str | None = Field(None, description="run it against this candidate (with start_run)")


@router.post("/runs/{run_id}/regression-dataset", status_code=201, response_model=RegressionDataset,
             response_model_exclude_unset=True)  # fmt: skip
def regression_dataset(run_id: str, body: RegressionIn, svc: ServicesDep) -> dict[str, Any]:
    """Turn a run's failed items into a published dataset, an experiment over it, and optionally a run."""
    ids = [_id(item, "run_item_ids") for item in body.run_item_ids]
    deployment = parse_uuid(body.deployment_id, "deployment_id") if body.deployment_id else None
    return operations.regression_dataset(svc, _id(run_id), body.name, ids, body.start_run, deployment)


@router.get("/runs/{base_run_id}/compare/{compare_run_id}", response_model=Comparison)
def compare_runs(
    base_run_id: str,
    compare_run_id: str,
    svc: ServicesDep,
    strict: Annotated[bool, Query(description="refuse (409) runs that differ in dataset version or scorers")] = False,
    scorer: Annotated[str, Query(max_length=200, description="only the flips this scorer failed")] = "",
    limit: Annotated[int | None, Query(ge=0, le=1_000_000, description="list at most N flips of each kind")] = None,
) -> dict[str, Any]:
    """Pass-rate and score movement with 95% paired intervals, the McNemar verdict, and the flipped items."""
    base, other = _id(base_run_id, "base_run_id"), _id(compare_run_id, "compare_run_id")
    return compare.compare_runs(svc, base, other, strict=strict, scorer=scorer, limit=limit)


@router.get("/experiments/{experiment_id}/flaky", response_model=FlakyReport)
def flaky(
    experiment_id: str,
    svc: ServicesDep,
    last: Annotated[int, Query(ge=2, le=compare.MAX_LAST, description="how many recent completed runs")] = 5,
) -> dict[str, Any]:
    """The items whose verdict changed across the experiment's last N completed runs, with their history."""
    return compare.flaky(svc, _id(experiment_id, "experiment_id"), last)
