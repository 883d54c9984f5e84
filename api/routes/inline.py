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
from agnt5_evals.domain.errors import Conflict, EvalsError, Forbidden, Invalid, NotFound, Unauthorized, Unavailable
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.services import inline

STATUS = {NotFound: 404, Conflict: 409, Invalid: 422, Unauthorized: 401, Forbidden: 403, Unavailable: 503}
MAX_BATCH = 100


def eval_error(status: int, message: str, code: str, field: str | None) -> JSONResponse:
    """A refused eval: an ``EvalResponse`` that did not pass, with the problem body's fields."""
    error: Any = {"code": code.upper(), "message": message, "details": {"field": field}}
    if status == 404:
        error = message  # the SDK reads a 404 body's ``error`` as the message (and says NOT_FOUND itself)
    body = {"output": None, "scores": [], "passed": False, "run_id": "", "trace_id": None, "duration_ms": None,
            "error": error, "type": "about:blank", "status": status, "detail": message, "message": message,
            "code": code, "field": field}  # fmt: skip
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


class Scored(BaseModel):
    scorer: str
    score: float
    passed: bool
    explanation: str | None = None
    label: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class EvalError(BaseModel):
    code: str = Field(description="EXECUTION_FAILED (the component raised), INVALID, NOT_FOUND, ...")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class EvalOut(BaseModel):
    """The SDK's ``EvalResponse``: the output, each scorer's result, and the run that recorded the eval."""

    output: Any = None
    scores: list[Scored]
    passed: bool = Field(description="every scorer passed and the component did not fail")
    run_id: str = Field(description="the run recording this eval: GET /api/v1/runs/{run_id}")
    trace_id: str | None = Field(None, description="the run item (its trace events: GET /api/v1/run-items/{id})")
    duration_ms: int | None = None
    error: EvalError | None = None


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


class BatchOut(BaseModel):
    """Each item's ``EvalResponse`` (with its ``index`` and ``item_id``), and the share that passed."""

    results: list[dict[str, Any]]
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


@router.post("/v1/eval", response_model=EvalOut, responses={404: {"model": EvalOut}, 422: {"model": EvalOut}})
def eval_one(body: EvalIn, svc: ServicesDep, deployment: DeploymentHeader = None) -> dict[str, Any]:
    """Evaluate one input against a deployed component with scorers, recorded as a run (the SDK's Client.eval)."""
    has_expected = "expected" in body.model_fields_set
    return inline.evaluate(svc, _deployment(deployment), body.component, body.component_type, body.input,
                           body.expected, has_expected, body.scorers)  # fmt: skip


@router.post("/v1/eval/batch", response_model=BatchOut, responses={404: {"model": EvalOut}, 422: {"model": EvalOut}})
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
