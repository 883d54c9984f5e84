"""Trace events (the reference's raw event shape) and the trace_eval_context derived from them.

A run item records raw events; trace scorers read a ``agnt5.eval.trace_eval_context.v1`` artifact. The
reference does not publish how the platform derives one from the other, so this module decides (documented in
docs/_scorers_trace.md): tool steps come from ``tool.*`` events merged by call id, LLM steps from ``lm.call.*``
completed/failed events, error steps from any other ``*.failed`` event; the plan from the latest
``plan.created``/``plan.updated`` event; workflow state from ``workflow.state.changed`` events. Every input is
untrusted JSON: nothing here raises on malformed events.

One vocabulary: ``normalise`` reads the AGNT5 SDK's events too (``tool_call.*`` of an agent's tool calls,
``tool.*`` of a tool run directly, ``lm.*``), flat (the SDK's ``Event.to_dict()``: fields beside ``event_type``) or
nested (fields in ``data``, as our Context and the SDK's workerless answers record them), and gives every event our
names and field layout before anything derives steps from it: the same behaviour reaches the same verdicts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from typing import Any

SCHEMA = "agnt5.eval.trace_eval_context.v1"
PLAN_EVENTS = ("plan.created", "plan.updated")
STATE_EVENT = "workflow.state.changed"
TEXT_LIMIT = 500
_HASHED = {"arguments_hash": ("arguments", "args"), "result_hash": ("result",)}
_COPIED = ("arguments_ref", "arguments_hash", "result_ref", "result_hash", "summary_safe", "output_ref", "output_hash")
_ALIASES = {"args_ref": "arguments_ref", "args_hash": "arguments_hash"}


def number(value: Any) -> int | float | None:
    """A JSON number of untrusted input (bools, NaN and infinities are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if isinstance(value, int) or math.isfinite(value) else None


def count(value: Any) -> int:
    """A non-negative integer read from an untrusted JSON value (0 when it is not a finite number)."""
    return max(int(number(value) or 0), 0)


def text(value: Any) -> str:
    """A string field of untrusted JSON: the string itself, anything else ``""``."""
    return value if isinstance(value, str) else ""


def canonical_hash(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON (sorted keys, no spaces) of a value."""
    try:
        encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):  # not JSON (mixed key types, too deep): hash its type only
        encoded = f"<unencodable {type(value).__name__}>"
    return "sha256:" + hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()


def _get(mapping: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if mapping.get(key) is not None:
            return mapping[key]
    return None


def _event_type(event: dict[str, Any]) -> str:
    return text(_get(event, "event_type", "eventType"))


ENVELOPE = (
    "event_type", "eventType", "event_id", "eventId", "correlation_id", "correlationId", "parent_correlation_id",
    "parentCorrelationId", "timestamp_ns", "timestampNs", "name", "data", "metadata",
)  # fmt: skip
STAGES = ("started", "completed", "failed")
_SDK_TOOL = ("tool_call.", "tool.")  # an agent's tool call; a tool run directly (``tool.call.*`` is ours already)
_OURS_TO_SDK = {"tool.call.": "tool_call.", "lm.call.": "lm."}


def _our_kind(kind: str) -> str:
    """Our name for an event type: ``tool_call.X`` and ``tool.X`` are ``tool.call.X``, ``lm.X`` is ``lm.call.X``
    (X a stage); every other name is kept (``lm.content_block.completed`` is a stream delta, not an LLM call)."""
    prefix, _, stage = kind.rpartition(".")
    if stage in STAGES and prefix + "." in _SDK_TOOL:
        return f"tool.call.{stage}"
    if stage in STAGES and prefix == "lm":
        return f"lm.call.{stage}"
    return kind


def _lift(data: dict[str, Any], kind: str) -> dict[str, Any]:
    """The SDK's nested payload fields where ours are: arguments, result, error text."""
    lifted = dict(data)
    inp, out = data.get("input_data"), data.get("output_data")
    if "arguments" not in lifted and isinstance(inp, dict):
        lifted["arguments"] = inp.get("arguments", inp)
    if "result" not in lifted and kind.endswith(".completed") and out is not None:
        lifted["result"] = out["result"] if isinstance(out, dict) and "result" in out else out
    if "error" not in lifted and text(data.get("error_message")):
        lifted["error"] = data["error_message"]
    return lifted


def normalise(event: Any) -> dict[str, Any] | None:
    """One raw event (ours or the SDK's, flat or nested) in our vocabulary: our event type, the fields in
    ``data``; None for a value that is not an event object."""
    if not isinstance(event, dict):
        return None
    raw = _data(event)
    flat = {key: value for key, value in event.items() if key not in ENVELOPE}
    data = {**flat, **raw}
    kind = _event_type(event)
    ours = _our_kind(kind)
    if ours != kind and ours.startswith("tool.call."):
        data = _lift(data, ours)
        data["tool_name"] = text(data.get("tool_name")) or text(event.get("name")) or text(raw.get("name"))
    elif ours != kind and text(data.get("error_message")):
        data.setdefault("error", data["error_message"])
    name = text(event.get("name")) or text(raw.get("name")) or None
    return {**{k: event[k] for k in ENVELOPE[:10] if k in event}, "event_type": ours, "data": data, "name": name}


def normalised(events: Any) -> list[dict[str, Any]]:
    """``normalise`` over a trace: the event objects of it, in our vocabulary."""
    found = (normalise(event) for event in (events if isinstance(events, list) else []))
    return [event for event in found if event is not None]


def sdk_trace(events: Any) -> list[dict[str, Any]]:
    """A trace in the SDK's vocabulary, as ``agnt5.eval.TraceEvent`` fields (what an SDK scorer reads:
    ``lm.completed`` with ``total_tokens``, ``tool_call.*`` with ``tool_name`` and ``arguments`` in ``data``)."""
    out = []
    for position, event in enumerate(normalised(events)):
        kind = event["event_type"]
        for ours, theirs in _OURS_TO_SDK.items():
            if kind.startswith(ours) and kind.rsplit(".", 1)[-1] in STAGES:
                kind = theirs + kind.rsplit(".", 1)[-1]
        out.append({"event_type": kind, "event_id": text(_get(event, "event_id", "eventId")) or f"event-{position}",
                    "correlation_id": _span(event), "parent_correlation_id": text(event.get("parent_correlation_id"))
                    or None, "timestamp_ns": count(_get(event, "timestamp_ns", "timestampNs")),
                    "data": event["data"], "name": event["name"]})  # fmt: skip
    return out


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


def _ms(event: dict[str, Any]) -> int:
    return count(_get(event, "timestamp_ns", "timestampNs")) // 1_000_000


def _span(event: dict[str, Any]) -> str:
    return text(_get(event, "correlation_id", "correlationId"))


def _plan_link(data: dict[str, Any]) -> int | None:
    value = _get(data, "plan_step", "matches_plan_step", "planStep")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _step(kind: str, event: dict[str, Any], data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A step with the fields every kind carries; ``fields`` override the defaults."""
    at = _ms(event)
    span = _span(event)
    base = {"kind": kind, "name": text(event.get("name")), "status": "completed", "started_at": at, "ended_at": at}
    base.update(error_code="", error_safe="", span_id=span, matches_plan_step=_plan_link(data))
    return {**base, **fields}


def _tool_step(event: dict[str, Any], data: dict[str, Any], call_id: str) -> dict[str, Any]:
    tool = text(_get(data, "tool_name", "toolName")) or text(event.get("name"))
    name = text(event.get("name")) or tool
    return _step("tool_call", event, data, tool_name=tool.strip(), name=name, status="started", ended_at=0,
                 duration_ms=0, span_id=call_id)  # fmt: skip


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError, RecursionError):
            return json.loads(value)
    return value


def _merge_safe_fields(step: dict[str, Any], data: dict[str, Any]) -> None:
    """Hash raw arguments/results (which stay out of the context) and copy the safe refs/hashes given."""
    for key, sources in _HASHED.items():
        source = next((k for k in sources if k in data), None)
        if source is not None:
            step[key] = canonical_hash(_decoded(data[source]))
    for key in (*_COPIED, *_ALIASES):
        if text(data.get(key)):
            step[_ALIASES.get(key, key)] = data[key][:TEXT_LIMIT]


def _merge_tool_event(step: dict[str, Any], event: dict[str, Any], data: dict[str, Any]) -> None:
    kind = _event_type(event)
    if not step["tool_name"]:
        step["tool_name"] = text(_get(data, "tool_name", "toolName")).strip()
        step["name"] = step["name"] or step["tool_name"]
    if kind.endswith((".completed", ".failed")):
        step["status"] = "completed" if kind.endswith(".completed") else "failed"
        step["ended_at"] = _ms(event)
    if kind.endswith(".failed"):
        step["error_code"] = text(_get(data, "error_code", "errorCode")) or "tool_failed"
        step["error_safe"] = (text(data.get("error")) or text(data.get("error_safe")))[:200]
    if text(data.get("status")):
        step["status"] = data["status"]
    step["matches_plan_step"] = _plan_link(data) or step["matches_plan_step"]
    _merge_safe_fields(step, data)
    duration = _get(data, "duration_ms", "durationMs")
    if number(duration) is not None:
        step["duration_ms"] = max(round(duration), 0)
    elif step["ended_at"] and step["started_at"]:
        step["duration_ms"] = max(step["ended_at"] - step["started_at"], 0)


def _is_llm(kind: str) -> bool:
    return kind in ("lm.call.completed", "lm.call.failed")


def _llm_step(event: dict[str, Any], data: dict[str, Any], failed: bool) -> dict[str, Any]:
    tokens = count(_get(data, "total_tokens", "totalTokens"))
    tokens = tokens or count(data.get("input_tokens")) + count(data.get("output_tokens"))
    code = (text(_get(data, "error_code", "errorCode")) or "llm_failed") if failed else ""
    step = _step("llm_call", event, data, model=text(data.get("model")), role=text(data.get("role")), tokens=tokens,
                 status="failed" if failed else "completed", error_code=code)  # fmt: skip
    _merge_safe_fields(step, data)
    return step


def _error_step(event: dict[str, Any], data: dict[str, Any], kind: str) -> dict[str, Any]:
    code = text(_get(data, "error_code", "errorCode")) or kind
    return _step("error", event, data, name=text(event.get("name")) or kind, status="failed", error_code=code,
                 error_safe=text(data.get("error"))[:200], matches_plan_step=None)  # fmt: skip


def total_tokens(events: Any) -> int:
    """The tokens of a trace's LLM calls (ours and the SDK's, flat or nested). Only the calls are normalised (the
    worker counts every item's tokens, and most events are not LLM calls)."""
    calls = [normalise(event) for event in (events if isinstance(events, list) else [])
             if isinstance(event, dict) and _our_kind(_event_type(event)) == "lm.call.completed"]  # fmt: skip
    return sum(_llm_step(event, _data(event), False)["tokens"] for event in calls if event is not None)


def execution_steps(events: list[Any]) -> list[dict[str, Any]]:
    """Turn raw events into ordered execution steps, indexed from 1 (tool events merge by call id)."""
    steps: list[dict[str, Any]] = []
    tools: dict[str, dict[str, Any]] = {}
    for position, event in enumerate(normalised(events)):
        kind, data = _event_type(event), _data(event)
        if kind.startswith("tool."):
            call_id = text(_get(data, "tool_call_id", "toolCallId")) or _span(event)
            key = call_id or f"event-{position}"
            if key not in tools:
                tools[key] = _tool_step(event, data, call_id)
                steps.append(tools[key])
            _merge_tool_event(tools[key], event, data)
        elif _is_llm(kind):
            steps.append(_llm_step(event, data, kind.endswith(".failed")))
        elif kind.endswith(".failed"):
            steps.append(_error_step(event, data, kind))
    for index, step in enumerate(steps, start=1):
        step["index"] = index
    return steps


def is_failed(step: dict[str, Any]) -> bool:
    """A step that failed: status ``failed`` (any case) or a non-empty error_code."""
    return text(step.get("status")).lower() == "failed" or bool(text(step.get("error_code")))


def _plan_step(item: Any, position: int) -> dict[str, Any] | None:
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, dict):
        return None
    index = item.get("index")
    return {
        "index": index if isinstance(index, int) and not isinstance(index, bool) and index > 0 else position + 1,
        "text_safe": (text(item.get("text_safe")) or text(item.get("text")))[:TEXT_LIMIT],
        "expected_action": text(item.get("expected_action")),
        "expected_tool": text(item.get("expected_tool")).strip(),
    }


def plan_of(events: list[Any]) -> tuple[dict[str, Any], str]:
    """The latest recorded plan (``plan.created``/``plan.updated``) and the task text it names."""
    plan: dict[str, Any] = {"detected": False, "steps": []}
    task = ""
    for event in normalised(events):
        if _event_type(event) not in PLAN_EVENTS:
            continue
        data = _data(event)
        raw: list[Any] = data["steps"] if isinstance(data.get("steps"), list) else []
        steps = [s for s in (_plan_step(item, n) for n, item in enumerate(raw)) if s is not None]
        plan = {"detected": bool(steps), "steps": steps}
        given = data.get("task")
        task = text(given.get("text_safe")) if isinstance(given, dict) else text(given)
    return plan, task


def _infer_link(step: dict[str, Any], plan: list[dict[str, Any]], done: set[int], last: dict[str, Any]) -> int | None:
    """The first open plan step expecting this tool (a retry keeps its failed call's link) or the final answer."""
    open_steps = [p for p in plan if p["index"] not in done]
    if step["kind"] == "tool_call" and step["tool_name"]:
        found = next((p["index"] for p in open_steps if p["expected_tool"] == step["tool_name"]), None)
        previous = last.get(step["tool_name"])
        if found is None and previous is not None and is_failed(previous):
            found = previous.get("matches_plan_step")
        return found if isinstance(found, int) else None
    if step["kind"] == "llm_call" and step.get("role") == "final_response":
        return next((int(p["index"]) for p in open_steps if p["expected_action"] == "final_answer"), None)
    return None


def link_plan(steps: list[dict[str, Any]], plan: list[dict[str, Any]]) -> list[int]:
    """Set ``matches_plan_step`` on steps (explicit links win) and return the off-path tool step indexes."""
    indexes = {p["index"] for p in plan}
    done: set[int] = set()
    last: dict[str, dict[str, Any]] = {}
    off_path = []
    for step in steps:
        if step.get("matches_plan_step") is None:
            step["matches_plan_step"] = _infer_link(step, plan, done, last)
        link = step["matches_plan_step"]
        if link in indexes:
            done.add(link)
        elif step["kind"] == "tool_call":
            off_path.append(step["index"])
        if step["kind"] == "tool_call":
            last[step["tool_name"]] = step
    return off_path


def duplicate_groups(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Successful tool calls with the same name and the same arguments hash, two or more per group."""
    groups: dict[tuple[str, str], list[int]] = {}
    for step in tools:
        if step.get("arguments_hash") and not is_failed(step):
            groups.setdefault((step["tool_name"], step["arguments_hash"]), []).append(step["index"])
    return [
        {"tool_name": name, "step_ids": ids, "reason": "same_tool_and_arguments"}
        for (name, _), ids in groups.items()
        if len(ids) > 1
    ]


def retry_groups(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chains of a failed tool call followed by the next calls of the same tool, up to the first success."""
    groups: list[dict[str, Any]] = []
    grouped: set[int] = set()
    for position, step in enumerate(tools):
        if step["index"] in grouped or not is_failed(step):
            continue
        chain = [step]
        for later in tools[position + 1 :]:
            if later["tool_name"] == step["tool_name"]:
                chain.append(later)
                if not is_failed(later):
                    break
        if len(chain) > 1:
            grouped.update(s["index"] for s in chain)
            groups.append({"step_ids": [s["index"] for s in chain], "reason": "retry_after_failure"})
    return groups


def _features(steps: list[dict[str, Any]], plan: dict[str, Any], off_path: list[int]) -> dict[str, Any]:
    tools = [s for s in steps if s["kind"] == "tool_call"]
    names = [s["tool_name"] for s in tools if s["tool_name"]]
    llm = [s for s in steps if s["kind"] == "llm_call"]
    matched = {s["matches_plan_step"] for s in steps} & {p["index"] for p in plan["steps"]}
    missing = [p for p in plan["steps"] if p["index"] not in matched]
    return {
        "execution_step_count": len(steps),
        "tool_call_count": len(names),
        "unique_tool_call_count": len(set(names)),
        "turn_count": 0,
        "llm_call_count": len(llm),
        "total_tokens": sum(s["tokens"] for s in llm),
        "error_count": sum(1 for s in steps if s["kind"] == "error" or is_failed(s)),
        "duplicate_tool_calls": duplicate_groups(tools),
        "retry_groups": retry_groups(tools),
        "off_path_steps": off_path,
        "plan_steps_total": len(plan["steps"]),
        "plan_steps_matched": len(matched),
        "plan_steps_missing": [{"plan_step_index": p["index"], "text_safe": p["text_safe"]} for p in missing],
    }


def trace_eval_context(events: list[Any], *, session_id: str, root_run_id: str, task: str = "") -> dict[str, Any]:
    """Derive the trace_eval_context v1 artifact for one run item from its raw events.

    ``task`` is the task text used when no plan event names one.
    """
    events = events if isinstance(events, list) else []
    steps = execution_steps(events)
    plan, plan_task = plan_of(events)
    off_path = link_plan(steps, plan["steps"]) if plan["detected"] else []
    context: dict[str, Any] = {
        "schema_version": SCHEMA,
        "project_id": "local",
        "session_id": session_id,
        "root_run_id": root_run_id,
        "plan": plan,
        "execution_steps": steps,
        "features": _features(steps, plan, off_path),
        "evidence_refs": {},
    }
    if plan_task or task:
        context["task"] = {"text_safe": (plan_task or task)[:TEXT_LIMIT]}
    return context


def workflow_states(events: list[Any]) -> dict[str, Any]:
    """Named state values from ``workflow.state.changed`` events (data ``{name, value}``); the last write wins."""
    states: dict[str, Any] = {}
    for event in normalised(events):
        if _event_type(event) == STATE_EVENT:
            data = _data(event)
            name = text(data.get("name")) or text(event.get("name"))
            if name and "value" in data:
                states[name] = data["value"]
    return states
