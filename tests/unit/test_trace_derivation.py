"""Deriving trace_eval_context from raw events: steps, safe attributes, plan links and features."""

from __future__ import annotations

from typing import Any

from agnt5_evals import Context
from agnt5_evals.domain.scoring import BUILTINS, ScorerInput
from agnt5_evals.domain.scoring.base import ScoreResult
from agnt5_evals.domain.trace import SCHEMA, canonical_hash, trace_eval_context, workflow_states


def ev(
    event_type: str,
    data: dict[str, Any] | None = None,
    name: str | None = None,
    ms: int = 1,
    correlation_id: str = "run",
) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "event_id": f"{event_type}-{ms}",
        "correlation_id": correlation_id,
        "timestamp_ns": ms * 1_000_000,
        "data": data or {},
        "name": name,
    }


def call(name: str, call_id: str, start: int, end: int, args: Any = None, **data: Any) -> list[dict[str, Any]]:
    base = {"tool_name": name, "tool_call_id": call_id, "arguments": args if args is not None else {}}
    phase = "failed" if "error" in data else "completed"
    return [
        ev("tool.call.started", base, name, start, call_id),
        ev(f"tool.call.{phase}", {**base, **data}, name, end, call_id),
    ]


def derive(events: list[Any], task: str = "") -> dict[str, Any]:
    return trace_eval_context(events, session_id="item-1", root_run_id="run-1", task=task)


def scored(name: str, events: list[Any], config: dict[str, Any] | None = None, **meta: Any) -> ScoreResult:
    inp = ScorerInput(output=None, config=config or {}, events=events, metadata=meta)
    return BUILTINS[name].fn(inp)


PLAN = {
    "task": "Find the refund policy",
    "steps": [
        {"text": "Search docs for the refund policy", "expected_action": "tool_call", "expected_tool": "search_docs"},
        {"text": "Answer with a summary", "expected_action": "final_answer"},
    ],
}

# The Appendix A plan sample, as a component would record it.
PLAN_EVENTS = [
    ev("plan.created", PLAN, "planner", 1),
    ev("lm.call.completed", {"model": "m", "total_tokens": 10, "role": "planning"}, "m", 2),
    *call("search_docs", "c1", 3, 5, {"q": "refund"}),
    *call("search_docs", "c2", 6, 9, {"q": "refund"}),
    ev("lm.completed", {"model": "m", "total_tokens": 20, "role": "final_response"}, "m", 10),
]


def test_steps_from_both_llm_spellings_and_camel_case_fields():
    events = [
        {"eventType": "lm.completed", "timestampNs": 7_000_000, "data": {"totalTokens": 5, "model": "m"}, "name": "m"},
        ev("lm.call.completed", {"input_tokens": 3, "output_tokens": 4, "role": "final_response"}, "m", 9),
        ev("lm.call.failed", {"error_code": "rate_limited"}, "m", 11),
        ev("lm.failed", {}, "m", 12),
    ]
    ctx = derive(events)
    steps = ctx["execution_steps"]
    assert [(s["kind"], s["tokens"], s["status"]) for s in steps] == [
        ("llm_call", 5, "completed"),
        ("llm_call", 7, "completed"),
        ("llm_call", 0, "failed"),
        ("llm_call", 0, "failed"),
    ]
    assert (steps[0]["started_at"], steps[0]["ended_at"]) == (7, 7)  # milliseconds from timestamp_ns
    assert steps[1]["role"] == "final_response"
    assert [s["error_code"] for s in steps] == ["", "", "rate_limited", "llm_failed"]
    assert ctx["features"]["llm_call_count"] == 4 and ctx["features"]["total_tokens"] == 12
    assert ctx["features"]["error_count"] == 2


def test_tool_steps_merge_by_call_id_with_safe_attributes_only():
    events = call("search", "c1", 10, 25, '{"b": 1, "a": [1, 2]}', result={"rows": 3}, duration_ms=14.6)
    events.append({"eventType": "tool.call.completed", "data": {"toolCallId": "c9", "toolName": "other"}})
    ctx = derive(events)
    first, second = ctx["execution_steps"]
    assert (first["index"], first["kind"], first["tool_name"], first["status"]) == (
        1,
        "tool_call",
        "search",
        "completed",
    )
    assert (first["started_at"], first["ended_at"], first["duration_ms"]) == (10, 25, 15)
    assert first["arguments_hash"] == canonical_hash({"a": [1, 2], "b": 1}) == canonical_hash({"b": 1, "a": [1, 2]})
    assert first["arguments_hash"].startswith("sha256:") and len(first["arguments_hash"]) == 7 + 64
    assert first["result_hash"] == canonical_hash({"rows": 3})
    assert "arguments" not in first and "result" not in first  # raw values stay out of the context
    assert (second["tool_name"], second["span_id"]) == ("other", "c9")


def test_failed_tool_call_and_other_failures():
    events = [
        *call("t", "c1", 1, 4, error="Timeout: slow", error_code="SIMULATED_TIMEOUT"),
        *call("u", "c2", 5, 6, error="x"),
        ev("function.failed", {"error": "boom"}, "f", 7),
    ]
    ctx = derive(events)
    failed, plain, error = ctx["execution_steps"]
    assert (failed["status"], failed["error_code"], failed["error_safe"]) == (
        "failed",
        "SIMULATED_TIMEOUT",
        "Timeout: slow",
    )
    assert plain["error_code"] == "tool_failed"
    assert (error["kind"], error["error_code"], error["name"]) == ("error", "function.failed", "f")
    assert ctx["features"]["error_count"] == 3


def test_given_ref_and_hash_fields_are_copied():
    ctx = derive(
        [
            ev(
                "tool.call.completed",
                {
                    "tool_name": "t",
                    "tool_call_id": "1",
                    "args_hash": "h",
                    "result_ref": "blob://1",
                    "summary_safe": "looked up",
                },
            )
        ]
    )
    step = ctx["execution_steps"][0]
    assert (step["arguments_hash"], step["result_ref"], step["summary_safe"]) == ("h", "blob://1", "looked up")


def test_plan_sample_from_raw_events_reproduces_the_appendix_numbers():
    ctx = derive(PLAN_EVENTS)
    features = ctx["features"]
    assert ctx["plan"]["detected"] and [p["index"] for p in ctx["plan"]["steps"]] == [1, 2]
    assert ctx["task"] == {"text_safe": "Find the refund policy"}
    assert [s.get("matches_plan_step") for s in ctx["execution_steps"]] == [None, 1, None, 2]
    assert features["duplicate_tool_calls"] == [
        {"tool_name": "search_docs", "step_ids": [2, 3], "reason": "same_tool_and_arguments"}
    ]
    assert (features["off_path_steps"], features["plan_steps_total"], features["plan_steps_matched"]) == ([3], 2, 2)
    assert features["plan_steps_missing"] == [] and features["retry_groups"] == []
    efficiency = scored("step_efficiency", PLAN_EVENTS)
    assert (efficiency.score, efficiency.label) == (0.625, "needs_review")
    adherence = scored("plan_adherence", PLAN_EVENTS)
    assert adherence.score == 2 / 3 and adherence.label == "partial_adherence"
    quality = scored("plan_quality", PLAN_EVENTS)
    assert quality.passed and quality.label == "good_plan"


def test_retry_links_to_the_failed_calls_plan_step_and_forms_a_retry_group():
    events = [
        ev("plan.created", PLAN, None, 1),
        *call("search_docs", "c1", 2, 3, {"q": 1}, error="timeout"),
        *call("search_docs", "c2", 4, 5, {"q": 1}),
        *call("lookup", "c3", 6, 7),
    ]
    ctx = derive(events)
    features = ctx["features"]
    assert [s["matches_plan_step"] for s in ctx["execution_steps"]] == [1, 1, None]
    assert features["retry_groups"] == [{"step_ids": [1, 2], "reason": "retry_after_failure"}]
    assert features["duplicate_tool_calls"] == []  # a failed call is not a duplicate of its retry
    assert features["off_path_steps"] == [3]
    assert features["plan_steps_matched"] == 1
    assert features["plan_steps_missing"] == [{"plan_step_index": 2, "text_safe": "Answer with a summary"}]
    recovered = scored("tool_failure_recovered", events, {"tool": "search_docs"})
    assert (recovered.label, recovered.metadata["first_failed_step"]) == ("recovered", 1)


def test_explicit_plan_step_links_win_and_plans_can_be_replaced():
    events = [
        ev("plan.created", {"steps": ["old step"]}, None, 1),
        ev(
            "plan.updated",
            {"steps": [{"text": "lookup the order", "index": 4}, "reply"], "task": {"text_safe": "order status"}},
            None,
            2,
        ),
        ev("tool.call.completed", {"tool_name": "x", "tool_call_id": "1", "plan_step": 2}, None, 3),
        ev("tool.call.completed", {"tool_name": "y", "tool_call_id": "2", "plan_step": 9}, None, 4),
    ]
    ctx = derive(events, task="ignored: the plan names its task")
    assert [(p["index"], p["text_safe"]) for p in ctx["plan"]["steps"]] == [(4, "lookup the order"), (2, "reply")]
    assert ctx["task"]["text_safe"] == "order status"
    assert [s["matches_plan_step"] for s in ctx["execution_steps"]] == [2, 9]
    assert ctx["features"]["off_path_steps"] == [2]  # 9 is not a plan step
    assert ctx["features"]["plan_steps_matched"] == 1


def test_no_plan_means_no_plan_features_and_the_task_comes_from_the_input():
    ctx = derive([ev("plan.created", {"steps": []}), *call("a", "1", 1, 2)], task="the input")
    assert ctx["plan"] == {"detected": False, "steps": []}
    assert ctx["features"]["off_path_steps"] == [] and ctx["features"]["plan_steps_total"] == 0
    assert ctx["task"] == {"text_safe": "the input"}
    result = BUILTINS["plan_quality"].fn(ScorerInput(output=None, input={"question": "q"}, events=[ev("x")]))
    assert result.label == "no_plan" and result.evidence["trace_eval_context"]["task"] == {"text_safe": "q"}


def test_derived_context_is_valid_and_carries_run_ids():
    result = scored("tool_called", [ev("run.started")], {"tool": "t"}, run_id="R", run_item_id="I")
    ctx = result.evidence["trace_eval_context"]
    assert (ctx["schema_version"], ctx["session_id"], ctx["root_run_id"]) == (SCHEMA, "I", "R")
    assert (result.label, result.metadata["session_id"]) == ("not_called", "I")


def test_events_recorded_by_the_sdk_context_score_end_to_end():
    ctx = Context("run-x")
    ctx.event("plan.created", PLAN)
    ctx.llm_call("m", total_tokens=5, role="planning")
    ctx.tool_call("search_docs", {"q": "refund"}, result={"hits": 1})
    ctx.tool_call("lookup_order", {"id": 1}, error="boom")
    ctx.tool_call("lookup_order", {"id": 1}, result={"ok": True})
    ctx.llm_call("m", total_tokens=7, role="final_response")
    ctx.event("workflow.state.changed", {"name": "cart", "value": {"items": 2}})
    events = ctx.events
    assert scored("tool_sequence_exact", events, {"tools": ["search_docs", "lookup_order", "lookup_order"]}).passed
    params = {"arguments_hash": canonical_hash({"q": "refund"}), "status": "completed"}
    assert scored("tool_params_match", events, {"tool": "search_docs", "params": params}).passed
    assert scored("max_tokens", events, {"max": 12}).passed and not scored("max_tokens", events, {"max": 11}).passed
    assert scored("tool_failure_recovered", events).label == "recovered"
    assert scored("no_errors", events).label == "has_errors"
    assert scored("state_equals", events, {"name": "cart", "expected": {"items": 2}}).passed
    assert workflow_states(events) == {"cart": {"items": 2}}


def test_garbage_events_never_break_the_derivation():
    events: list[Any] = [
        "x",
        3,
        None,
        {"event_type": 5},
        {"event_type": "tool.call.completed", "data": [1]},
        {"event_type": "lm.call.completed", "timestamp_ns": float("inf"), "data": {"total_tokens": "9"}},
        {"event_type": "plan.created", "data": {"steps": [None, 4, {"index": True}]}},
        {"event_type": "tool.x", "data": {"duration_ms": 10**400, "arguments": {1, 2}}},
    ]
    ctx = derive(events)
    assert [s["index"] for s in ctx["execution_steps"]] == [1, 2, 3]
    assert ctx["execution_steps"][1]["tokens"] == 0 and ctx["execution_steps"][1]["started_at"] == 0
    assert ctx["plan"]["steps"] == [{"index": 3, "text_safe": "", "expected_action": "", "expected_tool": ""}]
    assert derive("not a list")["execution_steps"] == []  # type: ignore[arg-type]


def test_a_given_hash_wins_over_the_computed_one():
    events = [
        ev(
            "tool.call.completed",
            {"tool_name": "t", "tool_call_id": "1", "arguments": {"a": 1}, "arguments_hash": "mine"},
        )
    ]
    assert derive(events)["execution_steps"][0]["arguments_hash"] == "mine"


def test_deeply_nested_values_do_not_raise():
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    text = "[" * 100_000 + "]" * 100_000
    ctx = derive(
        [
            ev("tool.call.completed", {"tool_name": "t", "tool_call_id": "1", "arguments": deep}),
            ev("tool.call.completed", {"tool_name": "t", "tool_call_id": "2", "arguments": text}),
        ]
    )
    assert all(s["arguments_hash"].startswith("sha256:") for s in ctx["execution_steps"])
    same = BUILTINS["state_equals"].fn(
        ScorerInput(output=None, config={"name": "n", "expected": deep}, states={"n": deep})
    )
    assert same.passed
