"""Deriving trace_eval_context from raw events (both lm.call.* and lm.* spellings)."""

from __future__ import annotations

from agnt5_evals.domain.trace import SCHEMA, trace_eval_context


def ev(event_type, data=None, name=None, ts=1, correlation_id="c"):
    return {"event_type": event_type, "event_id": event_type, "correlation_id": correlation_id,
            "timestamp_ns": ts * 1_000_000, "data": data or {}, "name": name}  # fmt: skip


def test_context_has_schema_and_indexed_steps():
    events = [
        ev("tool.call.started", {"tool_name": "search", "tool_call_id": "1"}, "search", 1),
        ev("tool.call.completed", {"tool_name": "search", "tool_call_id": "1"}, "search", 5),
        ev("lm.call.completed", {"total_tokens": 10, "model": "m"}, "m", 6),
        ev("lm.completed", {"total_tokens": 5}, "m", 7),
        ev("function.failed", {"error": "x"}, "f", 8),
    ]
    ctx = trace_eval_context(events, session_id="s", root_run_id="r")
    assert ctx["schema_version"] == SCHEMA
    assert [s["index"] for s in ctx["execution_steps"]] == [1, 2, 3, 4]
    tool = ctx["execution_steps"][0]
    assert (tool["kind"], tool["tool_name"], tool["status"], tool["duration_ms"]) == (
        "tool_call",
        "search",
        "completed",
        4,
    )
    assert ctx["features"]["llm_call_count"] == 2 and ctx["features"]["total_tokens"] == 15
    assert ctx["features"]["error_count"] == 1


def test_failed_tool_call_is_an_error_step_feature():
    events = [ev("tool.call.started", {"tool_name": "t", "tool_call_id": "1"}),
              ev("tool.call.failed", {"tool_name": "t", "tool_call_id": "1", "error": "nope"})]  # fmt: skip
    ctx = trace_eval_context(events, session_id="s", root_run_id="r")
    assert ctx["execution_steps"][0]["status"] == "failed"
    assert ctx["features"]["error_count"] == 1


def test_garbage_events_are_ignored():
    ctx = trace_eval_context(["x", 3, {"event_type": None}], session_id="s", root_run_id="r")  # type: ignore[list-item]
    assert ctx["execution_steps"] == []
