"""Inline evals as the AGNT5 gateway serves them: ``POST /v1/eval`` (the SDK's ``Client.eval``) and ``POST
/v1/eval/batch`` (several inputs, one request), outside ``/api/v1``.

The project is the key's (``api.deps.in_own_project``), the deployment the ``X-DEPLOYMENT-ID`` header's. Every
answer, an error too, is the SDK's ``EvalResponse``: a refused eval has ``passed: false`` and ``error {code,
message, details}`` next to the problem body's fields (``message``, ``code``, ``field``), so the SDK never reads a
refusal as a pass. A 404 (no such deployment or component) carries ``error`` as the message string, the one
field the SDK reads from a 404 body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.routes import Router, StrictJSONRoute
from agnt5_evals.api.schemas import Json, Schema, examples
from agnt5_evals.domain.errors import Conflict, EvalsError, Forbidden, Invalid, NotFound, Unauthorized, Unavailable
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.services import inline

STATUS = {NotFound: 404, Conflict: 409, Invalid: 422, Unauthorized: 401, Forbidden: 403, Unavailable: 503}
MAX_BATCH = 100


def is_eval_path(path: str) -> bool:
    """Whether ``path`` is an inline eval's route (its refusals must read as evals that did not pass)."""
    return path == "/v1/eval" or path.startswith("/v1/eval/")


def eval_refusal(status: int, message: str, code: str, field: str | None) -> dict[str, Any]:
    """The ``EvalResponse`` part of a refused eval (see the module's text)."""
    error: Any = {"code": code.upper(), "message": message, "details": {"field": field}}
    if status == 404:
        error = message  # the SDK reads a 404 body's ``error`` as the message (and says NOT_FOUND itself)
    return {"output": None, "scores": [], "passed": False, "run_id": "", "trace_id": None, "duration_ms": None,
            "error": error}  # fmt: skip


def eval_error(status: int, message: str, code: str, field: str | None) -> JSONResponse:
    """A refused eval: an ``EvalResponse`` that did not pass, with the problem body's fields."""
    body = {**eval_refusal(status, message, code, field), "type": "about:blank", "status": status,
            "detail": message, "message": message, "code": code, "field": field}  # fmt: skip
    return JSONResponse(body, status_code=status)


class EvalRoute(StrictJSONRoute):
    """A route whose errors (a dependency's too: authentication, scope, project) answer in the eval shape."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                response: Response = await handler(request)
                return response
            except EvalsError as exc:
                status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
                return eval_error(status, exc.message, exc.code, exc.field)
            except RequestValidationError as exc:
                first = exc.errors()[0]
                loc = [str(part) for part in first["loc"][1:]] if first["loc"] else []
                return eval_error(422, str(first["msg"]), "invalid", ".".join(loc) or "body")

        return answer


router = Router(tags=["inline evals"], route_class=EvalRoute)


RUN_ID = "0b3c5d9e-4f7a-5b1c-9d2e-3f4a5b6c7d8e"
SCORED = {"scorer": "exact_match", "score": 1.0, "passed": True, "explanation": "output equals the expected output",
          "label": "match", "metadata": {}}  # fmt: skip
EVAL = {"output": "Hello, Ada!", "scores": [SCORED], "passed": True, "run_id": RUN_ID,
        "trace_id": "6f1d2c3b-4a5e-5f6a-8b7c-9d0e1f2a3b4c", "duration_ms": 12, "error": None}  # fmt: skip


class Scored(Schema):
    """One scorer's result, as the SDK's ``ScorerResultSummary`` reads it."""

    model_config = examples(SCORED)
    scorer: str
    score: float
    passed: bool
    explanation: str | None
    label: str | None
    metadata: dict[str, Json]


class EvalError(Schema):
    """Why an eval did not run to a verdict."""

    model_config = examples({"code": "EXECUTION_FAILED", "message": "RuntimeError: boom", "details": {}})
    code: str = Field(description="EXECUTION_FAILED (the component raised), INVALID, UNAUTHORIZED, FORBIDDEN, ...")
    message: str
    details: dict[str, Json]


class EvalOut(Schema):
    """The SDK's ``EvalResponse``: the output, each scorer's result, and the run that recorded the eval."""

    model_config = examples(EVAL)
    output: Json
    scores: list[Scored]
    passed: bool = Field(description="every scorer passed and the component did not fail")
    run_id: str = Field(description="the run recording this eval: GET /api/v1/runs/{run_id}")
    trace_id: str | None = Field(description="the run item (its output, trace events and scores)")
    duration_ms: int | None
    error: EvalError | None


class EvalRefused(BaseModel):
    """A refused eval: an ``EvalResponse`` that did not pass, with the problem body's fields; on a 404 ``error`` is
    the message (what the SDK reads there)."""

    model_config = examples({**EVAL, "output": None, "scores": [], "passed": False, "run_id": "", "trace_id": None,
                             "duration_ms": None, "error": {"code": "INVALID", "message": "send the deployment as "
                             "the X-DEPLOYMENT-ID header", "details": {"field": "X-DEPLOYMENT-ID"}},
                             "type": "about:blank", "status": 422, "detail": "send the deployment as the "
                             "X-DEPLOYMENT-ID header", "message": "send the deployment as the X-DEPLOYMENT-ID "
                             "header", "code": "invalid", "field": "X-DEPLOYMENT-ID"})  # fmt: skip
    output: None
    scores: list[Scored]
    passed: bool
    run_id: str
    trace_id: None
    duration_ms: None
    error: EvalError | str
    type: str
    status: int
    detail: str
    message: str
    code: str
    field: str | None


REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": EvalRefused, "description": why}
    for status, why in ((401, "no key or a bad key"), (403, "the key's scope is read"),
                        (404, "no such deployment or component"), (409, "conflict"), (422, "invalid input"))
}  # fmt: skip


class EvalIn(BaseModel):
    """``Client.eval``'s body. No ``scorers``: only ``no_errors`` (did it run); the SDK itself sends
    ``exact_match`` when ``expected`` is given."""

    model_config = ConfigDict(extra="forbid")
    component: str = Field(min_length=1, max_length=200)
    component_type: str = "function"
    input: Any = Field(default_factory=dict)
    scorers: list[str | dict[str, Any]] = Field(default_factory=list, max_length=50)
    expected: Any = None


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: Any = Field(default_factory=dict)
    expected: Any = None
    item_id: str | None = Field(None, max_length=200)


class BatchIn(BaseModel):
    """One component and scorer set over several inputs (each with its own expected value)."""

    model_config = ConfigDict(extra="forbid")
    component: str = Field(min_length=1, max_length=200)
    component_type: str = "function"
    scorers: list[str | dict[str, Any]] = Field(default_factory=list, max_length=50)
    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH)


class BatchResult(EvalOut):
    """One item's ``EvalResponse``, with its place in the batch."""

    model_config = examples({"index": 0, "item_id": "a", **EVAL})
    index: int
    item_id: str | None


class BatchOut(Schema):
    """Each item's ``EvalResponse`` (with its ``index`` and ``item_id``), and the share that passed."""

    model_config = examples({"results": [{"index": 0, "item_id": "a", **EVAL}], "total_items": 1, "passed_items": 1,
                             "failed_items": 0, "pass_rate": 1.0})  # fmt: skip
    results: list[BatchResult]
    total_items: int
    passed_items: int
    failed_items: int = Field(description="items whose component failed (an error)")
    pass_rate: float


DeploymentHeader = Annotated[
    str | None, Header(alias="X-DEPLOYMENT-ID", description="the deployment serving the component (required)")
]


def _deployment(header: str | None) -> Any:
    if not header:
        raise Invalid("send the deployment as the X-DEPLOYMENT-ID header", field="X-DEPLOYMENT-ID")
    return parse_uuid(header, "X-DEPLOYMENT-ID")


@router.post("/v1/eval", response_model=EvalOut, responses=REFUSALS)
def eval_one(body: EvalIn, svc: ServicesDep, deployment: DeploymentHeader = None) -> dict[str, Any]:
    """Evaluate one input against a deployed component with scorers, recorded as a run (the SDK's Client.eval)."""
    has_expected = "expected" in body.model_fields_set
    return inline.evaluate(svc, _deployment(deployment), body.component, body.component_type, body.input,
                           body.expected, has_expected, body.scorers)  # fmt: skip


@router.post("/v1/eval/batch", response_model=BatchOut, responses=REFUSALS)
def eval_batch(body: BatchIn, svc: ServicesDep, deployment: DeploymentHeader = None) -> dict[str, Any]:
    """Evaluate several inputs one after another, each recorded as its own run (like the SDK's batch_eval)."""
    deployment_id = _deployment(deployment)
    results = []
    for index, item in enumerate(body.items):
        has_expected = "expected" in item.model_fields_set
        one = inline.evaluate(svc, deployment_id, body.component, body.component_type, item.input, item.expected,
                              has_expected, body.scorers)  # fmt: skip
        results.append({"index": index, "item_id": item.item_id, **one})
    passed = sum(1 for r in results if r["passed"] and r["error"] is None)
    failed = sum(1 for r in results if r["error"] is not None)
    return {"results": results, "total_items": len(results), "passed_items": passed, "failed_items": failed,
            "pass_rate": passed / len(results)}  # fmt: skip
