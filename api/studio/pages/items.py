"""An item's page: input, expected output and output with a diff, the trace, the scores' evidence, annotations.

The page reads a handful of single rows (the run, its experiment, the item, its scores, its dataset item, its
annotations, and its neighbours by position): it costs the same on a 10-item run and on a 100,000-item one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request, Response

from agnt5_evals.api.deps import get_services
from agnt5_evals.api.studio.diff import diff_values
from agnt5_evals.api.studio.session import SessionDep
from agnt5_evals.api.studio.web import PREFIX, page, redirect
from agnt5_evals.api.studio.web import router as studio_router
from agnt5_evals.domain import trace
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.reports import evidence, failure_stack
from agnt5_evals.projections import queries, studio_items
from agnt5_evals.services import operations

router = studio_router()


def item_url(run_id: str, run_item_id: str) -> str:
    return f"{PREFIX}/runs/{run_id}/items/{run_item_id}"


@router.get("/runs/{run_id}/items/{run_item_id}")
def item_page(request: Request, session: SessionDep, run_id: str, run_item_id: str) -> Response:
    """One run item: what it was asked, expected and answered, its trace, scores with evidence, annotations."""
    return _render(request, run_id, run_item_id)


@router.post("/runs/{run_id}/items/{run_item_id}/annotations")
def annotate(
    request: Request,
    session: SessionDep,
    run_id: str,
    run_item_id: str,
    name: Annotated[str, Form(max_length=400)] = "",
    label: Annotated[str, Form(max_length=10_000)] = "",
    score: Annotated[str, Form(max_length=100)] = "",
    explanation: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    """Record a human annotation on the item (``POST /runs/{id}/annotations``' use case, the same checks and
    messages); a refusal shows the form again with the message."""
    form = {"name": name, "label": label, "score": score, "explanation": explanation}
    rid, iid = _ids(run_id, run_item_id)
    try:
        value = _score(score)
        operations.annotate(get_services(request), rid, iid, name, label or None, value, explanation or None)
    except (Invalid, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _render(request, rid, iid, status, form=form, error=exc.as_dict())
    return redirect(request, item_url(rid, iid) + "#annotations")


@router.get("/runs/{run_id}/agreement")
def agreement(request: Request, session: SessionDep, run_id: str, name: str = "") -> Response:
    """How well each scorer agrees with the human annotations of one name (``GET /runs/{id}/agreement``)."""
    rid = str(parse_uuid(run_id, "run_id"))
    svc = get_services(request)
    run = queries.run(svc.view, rid)
    report: dict[str, Any] | None = None
    error, status = None, 200
    try:
        report = operations.agreement_report(svc, rid, name)
    except (Invalid, NotFound) as exc:
        error, status = exc.as_dict(), 404 if isinstance(exc, NotFound) else 422
    names = sorted({a["name"] for a in queries.run_annotations(svc.view, rid)})
    return page(request, "items/agreement.html.j2", status, nav="experiments", run=run, report=report, error=error,
                names=names, name=name)  # fmt: skip


def _ids(run_id: str, run_item_id: str) -> tuple[str, str]:
    return str(parse_uuid(run_id, "run_id")), str(parse_uuid(run_item_id, "run_item_id"))


def _score(text: str) -> float | None:
    """The form's score: empty is none; anything else must be a number (the domain checks its range)."""
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise Invalid(f"must be a number from 0 to 1, got {text.strip()[:40]!r}", field="score") from None


def _render(
    request: Request,
    run_id: str,
    run_item_id: str,
    status: int = 200,
    form: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
) -> Response:
    rid, iid = _ids(run_id, run_item_id)
    view = get_services(request).view
    run = queries.run(view, rid)
    item = queries.run_item(view, iid)
    if item["run_id"] != rid:
        raise NotFound(f"run item {iid} is not part of run {rid}", field="run_item_id")
    experiment = queries.experiment(view, run["experiment_id"])
    scores = queries.scores(view, run_item_id=iid)  # by the item's index (with run_id, SQLite walks the run's)
    try:
        source: dict[str, Any] | None = queries.dataset_item(view, run["dataset_version_id"], item["dataset_item_id"])
    except NotFound:
        source = None
    example = source or {"input": None, "expected_output": None, "metadata": {}}
    cards = [
        {**score, **evidence(score, item, example, ("scorer_output", "evidence")), "score_id": score["id"]}
        for score in scores
    ]  # what GET /scores/{id}/evidence answers (without scorer_input: the page shows it above)
    compared = item["error"] is None and example["expected_output"] is not None  # no expected output: no diff
    annotations = studio_items.item_annotations(view, rid, iid)
    previous, following = studio_items.neighbours(view, rid, int(item["position"]))
    names = sorted({a["name"] for a in annotations})
    return page(
        request,
        "items/item.html.j2",
        status,
        nav="experiments",
        run=run,
        experiment=experiment,
        item=item,
        source=source,
        diff=diff_values(example["expected_output"], item["output"]) if compared else None,
        stack=failure_stack(item["events"]),
        steps=timeline(item["events"]),
        scores=cards,
        annotations=annotations,
        annotation_names=names,
        previous=previous,
        following=following,
        form=form or {"name": names[-1] if names else "", "label": "", "score": "", "explanation": ""},
        error=error,
    )


# -- the trace as a timeline ----------------------------------------------------------------------------------

TOOL = "tool.call."
LLM = "lm.call."


def timeline(events: Any) -> list[dict[str, Any]]:
    """A run item's trace as steps in time order: a tool call (its start, end or failure merged by call id) with
    its arguments and result or error; an LLM call with its model, tokens and latency; any other event with its
    type, name and data. ``at_ms`` is the time since the first event."""
    normalised = trace.normalised(events)
    times = [trace.count(e.get("timestamp_ns")) for e in normalised]
    start = min((t for t in times if t), default=0)
    steps: list[dict[str, Any]] = []
    tools: dict[str, dict[str, Any]] = {}
    llm_started: dict[str, int] = {}
    for position, (event, at) in enumerate(zip(normalised, times, strict=True)):
        kind, data = event["event_type"], event["data"]
        offset = (at - start) / 1e6 if at and start else None
        if kind.startswith(TOOL):
            key = trace.text(data.get("tool_call_id")) or trace.text(event.get("correlation_id")) or str(position)
            step = tools.get(key)
            if step is None or step["stage"] in ("completed", "failed"):
                step = _tool_step(data, event, offset)
                tools[key] = step
                steps.append(step)
            _merge_tool(step, kind, data, at)
        elif kind == LLM + "started":
            llm_started[trace.text(event.get("correlation_id"))] = at
        elif kind in (LLM + "completed", LLM + "failed"):
            began = llm_started.pop(trace.text(event.get("correlation_id")), 0)
            steps.append(_llm_step(kind, data, event, offset, (at - began) / 1e6 if began and at else None))
        else:
            steps.append(_other_step(kind, data, event, offset))
    return steps


def _tool_step(data: dict[str, Any], event: dict[str, Any], offset: float | None) -> dict[str, Any]:
    name = trace.text(data.get("tool_name")) or trace.text(event.get("name")) or "tool"
    return {"kind": "tool", "title": name, "what": "tool call", "at_ms": offset, "stage": "started",
            "status": "started", "arguments": data.get("arguments"), "has_result": False, "result": None, "error": "",
            "duration_ms": None, "started_ns": 0}  # fmt: skip


def _merge_tool(step: dict[str, Any], kind: str, data: dict[str, Any], at: int) -> None:
    stage = kind.rsplit(".", 1)[-1]
    step["stage"] = stage
    if stage == "started":
        step["started_ns"] = at
    if step["arguments"] is None and "arguments" in data:
        step["arguments"] = data["arguments"]
    if stage == "completed":
        step["status"] = "completed"
        step["has_result"], step["result"] = "result" in data, data.get("result")
    elif stage == "failed":
        step["status"] = "failed"
        step["error"] = trace.text(data.get("error")) or trace.text(data.get("error_code")) or "failed"
    duration = trace.number(data.get("duration_ms"))
    if duration is not None:
        step["duration_ms"] = duration
    elif stage in ("completed", "failed") and step["started_ns"] and at:
        step["duration_ms"] = (at - step["started_ns"]) / 1e6


def _llm_step(
    kind: str, data: dict[str, Any], event: dict[str, Any], offset: float | None, latency: float | None
) -> dict[str, Any]:
    timed = [trace.number(data.get(key)) for key in ("duration_ms", "latency_ms")]
    given = next((value for value in timed if value is not None), None)
    tokens_in, tokens_out = trace.count(data.get("input_tokens")), trace.count(data.get("output_tokens"))
    failed = kind.endswith(".failed")
    model = trace.text(data.get("model")) or trace.text(event.get("name")) or "LLM"
    return {
        "kind": "llm", "title": model, "what": "LLM call", "at_ms": offset,
        "status": "failed" if failed else "completed", "model": model, "role": trace.text(data.get("role")),
        "input_tokens": tokens_in, "output_tokens": tokens_out,
        "total_tokens": trace.count(data.get("total_tokens")) or tokens_in + tokens_out,
        "latency_ms": given if given is not None else latency,
        "error": trace.text(data.get("error")) if failed else "",
    }  # fmt: skip


def _other_step(kind: str, data: dict[str, Any], event: dict[str, Any], offset: float | None) -> dict[str, Any]:
    failed = kind.endswith(".failed")
    shown = {key: value for key, value in data.items() if key != "stack"}  # the stack trace has its own section
    return {"kind": "event", "title": kind or "event", "what": trace.text(event.get("name")), "at_ms": offset,
            "status": "failed" if failed else "", "data": shown,
            "error": trace.text(data.get("error")) if failed else ""}  # fmt: skip
