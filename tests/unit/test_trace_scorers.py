"""Trace scorers over an explicit trace_eval_context: Appendix A cases, every label, config and artifact errors."""

from __future__ import annotations

from typing import Any

import pytest

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.scoring import BUILTINS, ScorerInput, parse_scorer_spec
from agnt5_evals.domain.scoring.base import ScoreResult
from agnt5_evals.domain.trace import SCHEMA

TRACE_SCORERS = sorted(name for name, scorer in BUILTINS.items() if scorer.kind == "trace")
CONTEXT_SCORERS = [name for name in TRACE_SCORERS if name != "state_equals"]
BARE_OK = {"no_errors", "tool_failure_recovered", "step_efficiency", "plan_quality", "plan_adherence"}
BINARY_KEYS = {"builtin", "trace_eval_context_schema", "threshold", "session_id", "root_run_id", "evidence_refs"}


def context(steps: list[dict[str, Any]], features: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA,
        "project_id": "p1",
        "session_id": "s1",
        "root_run_id": "r1",
        "execution_steps": steps,
        "features": features or {},
        "evidence_refs": {"normalized_session_ref": "ref"},
        **extra,
    }


def score(name: str, config: dict[str, Any] | None = None, ctx: Any = None, **fields: Any) -> ScoreResult:
    """Call the scorer function itself (not run_scorer), so an exception fails the test."""
    metadata = {"trace_eval_context": ctx} if ctx is not None else {}
    return BUILTINS[name].fn(ScorerInput(output=None, config=config or {}, metadata=metadata, **fields))


def tool(index: int, name: str, **fields: Any) -> dict[str, Any]:
    return {"index": index, "kind": "tool_call", "tool_name": name, "name": name, "status": "completed", **fields}


def llm(index: int, role: str, **fields: Any) -> dict[str, Any]:
    return {"index": index, "kind": "llm_call", "role": role, "status": "completed", **fields}


# The 4-step sample of Appendix A: tools search_docs, lookup_order; 50 tokens; 10 -> 50 ms; no errors.
SAMPLE = context(
    [
        llm(1, "planning", tokens=20, started_at=10, ended_at=15),
        tool(2, "search_docs", arguments_hash="args-a", started_at=15, ended_at=25, duration_ms=10),
        tool(3, "lookup_order", arguments_hash="args-b", started_at=25, ended_at=35, duration_ms=10),
        llm(4, "final_response", tokens=30, started_at=35, ended_at=50),
    ],
    {
        "execution_step_count": 4,
        "tool_call_count": 2,
        "unique_tool_call_count": 2,
        "llm_call_count": 2,
        "total_tokens": 50,
        "error_count": 0,
    },
)

APPENDIX_BINARY = [
    ("tool_called", {"tool": "search_docs"}),
    ("tool_not_called", {"tool": "write_ticket"}),
    ("tool_sequence", {"tools": ["search_docs", "lookup_order"]}),
    ("tool_sequence_in_order", {"tools": ["search_docs", "lookup_order"]}),
    ("tool_sequence_exact", {"tools": ["search_docs", "lookup_order"]}),
    ("tool_sequence_any_order", {"tools": ["lookup_order", "search_docs"]}),
    ("tool_trajectory", {"tools": ["lookup_order", "search_docs"], "pattern": "any_order"}),
    ("tool_params_match", {"tool": "search_docs", "params": {"arguments_hash": "args-a"}}),
    ("max_tool_calls", {"max": 2}),
    ("max_llm_calls", {"max": 2}),
    ("max_tokens", {"max": 50}),
    ("duration_under", {"max_ms": 40}),
    ("no_errors", {}),
]

# The plan sample: planning LLM, the same search twice, final LLM; a 2-step plan; one duplicate group, one
# off-path step.
PLAN_SAMPLE = context(
    [
        llm(1, "planning", tokens=10),
        tool(2, "search_docs", arguments_hash="sha256:q", matches_plan_step=1),
        tool(3, "search_docs", arguments_hash="sha256:q"),
        llm(4, "final_response", tokens=20, matches_plan_step=2),
    ],
    {
        "execution_step_count": 4,
        "tool_call_count": 2,
        "unique_tool_call_count": 1,
        "llm_call_count": 2,
        "total_tokens": 30,
        "error_count": 0,
        "plan_steps_total": 2,
        "plan_steps_matched": 2,
        "plan_steps_missing": [],
        "duplicate_tool_calls": [{"tool_name": "search_docs", "step_ids": [2, 3], "reason": "same_tool_and_arguments"}],
        "off_path_steps": [3],
        "retry_groups": [],
    },
    task={"text_safe": "What is the refund policy for damaged orders?"},
    plan={
        "detected": True,
        "steps": [
            {
                "index": 1,
                "text_safe": "Search docs for the refund policy",
                "expected_action": "tool_call",
                "expected_tool": "search_docs",
            },
            {
                "index": 2,
                "text_safe": "Answer the customer with a summary of the refund policy",
                "expected_action": "final_answer",
            },
        ],
    },
)


def test_every_reference_trace_scorer_is_registered_with_its_config_rule():
    expected = {
        "tool_called",
        "tool_not_called",
        "tool_sequence",
        "tool_sequence_in_order",
        "tool_sequence_exact",
        "tool_sequence_any_order",
        "tool_trajectory",
        "tool_params_match",
        "max_tool_calls",
        "max_llm_calls",
        "max_tokens",
        "duration_under",
        "no_errors",
        "tool_failure_recovered",
        "step_efficiency",
        "plan_quality",
        "plan_adherence",
        "state_equals",
    }
    assert set(TRACE_SCORERS) == expected
    assert {n for n in expected if not BUILTINS[n].requires_config} == BARE_OK


@pytest.mark.parametrize(("name", "config"), APPENDIX_BINARY)
def test_appendix_a_all_binary_trace_scorers_pass_on_the_sample(name, config):
    result = score(name, config, SAMPLE)
    assert (result.score, result.passed) == (1.0, True), result.explanation
    assert set(result.metadata) >= BINARY_KEYS
    assert result.metadata["builtin"] == name and result.metadata["trace_eval_context_schema"] == SCHEMA
    assert (result.metadata["session_id"], result.metadata["root_run_id"]) == ("s1", "r1")
    assert result.metadata["evidence_refs"] == {"normalized_session_ref": "ref"}
    assert result.metadata["threshold"] == 1.0
    assert result.evidence["trace_eval_context"] is SAMPLE


def test_appendix_a_binary_case_count_is_thirteen():
    assert len({name for name, _ in APPENDIX_BINARY}) == 13


def test_appendix_a_plan_quality_on_the_sample_plan():
    result = score("plan_quality", {}, PLAN_SAMPLE)
    assert result.score >= 0.8 and result.passed and result.label == "good_plan"
    assert result.score == pytest.approx(0.85)
    assert result.metadata["task_present"] is True
    for key in ("structure", "completeness", "order", "relevance", "specificity", "step_count_score"):
        assert 0 <= result.metadata[key] <= 1
    assert result.metadata["relevance"] == pytest.approx(0.4)


def test_appendix_a_plan_adherence_is_two_thirds():
    result = score("plan_adherence", {}, PLAN_SAMPLE)
    assert result.score == pytest.approx(2 / 3)
    assert (result.passed, result.label) == (False, "partial_adherence")
    assert result.metadata["deviation_count"] == 1 and result.metadata["threshold"] == 0.8


def test_appendix_a_step_efficiency_is_0625():
    result = score("step_efficiency", {}, PLAN_SAMPLE)
    assert (result.score, result.passed, result.label) == (0.625, False, "needs_review")
    assert result.explanation == "step efficiency score 0.625: actual_steps=3, minimum_steps=2, penalties=3"
    assert result.metadata["minimum_source"] == "plan"
    assert (result.metadata["duplicate_steps"], result.metadata["off_path_steps"]) == (1, 1)


def test_appendix_a_state_equals():
    result = score("state_equals", {"name": "cart", "expected": {"items": 2}}, states={"cart": {"items": 2}})
    assert (result.score, result.passed, result.label) == (1.0, True, "matched")
    assert result.metadata["actual"] == {"items": 2} and result.metadata["expected"] == {"items": 2}


def test_appendix_a_tool_failure_recovered():
    ctx = context([tool(1, "search_docs", status="failed", error_code="SIMULATED_TIMEOUT"), tool(2, "search_docs")])
    result = score("tool_failure_recovered", {"tool": "search_docs", "error_code": "SIMULATED_TIMEOUT"}, ctx)
    assert (result.score, result.passed, result.label) == (1.0, True, "recovered")
    assert result.metadata["recovery_step_index"] == 2


@pytest.mark.parametrize("name", CONTEXT_SCORERS)
def test_appendix_a_trace_metric_without_context_is_an_artifact_error(name):
    config = dict(APPENDIX_BINARY).get(name, {})
    result = score(name, config)  # no context given and no events to derive one from
    assert (result.score, result.passed, result.label) == (0.0, False, "artifact_error")
    assert result.explanation == "trace_eval_context is required for trace metric scoring"


@pytest.mark.parametrize("name", TRACE_SCORERS)
def test_appendix_a_threshold_out_of_range_is_a_config_error(name):
    config = {**dict(APPENDIX_BINARY).get(name, {}), "name": "cart", "expected": 1, "score_threshold": 1.5}
    result = score(name, config, SAMPLE, states={"cart": 1})
    assert (result.score, result.passed, result.label) == (0.0, False, "config_error")
    assert result.explanation == f"{name} score_threshold must be between 0 and 1"


@pytest.mark.parametrize(
    ("ctx", "message"),
    [
        ({**SAMPLE, "schema_version": "v0"}, "invalid trace eval context schema_version 'v0'"),
        ({**SAMPLE, "project_id": ""}, "project_id is required"),
        ({**SAMPLE, "session_id": None}, "session_id is required"),
        ({**SAMPLE, "root_run_id": 7}, "root_run_id is required"),
        (context([{"index": 0, "kind": "tool_call"}]), "every execution step needs a positive index"),
        (context([{"index": 1.0, "kind": "tool_call"}]), "every execution step needs an integer index"),
        (context([{"index": 1, "kind": ""}]), "every execution step needs a kind"),
        (context([], features=None, plan=[1]), "plan must be an object"),
        ({**SAMPLE, "execution_steps": "steps"}, "execution_steps must be an array"),
        (context([], plan={"detected": True, "steps": ["x"]}), "plan.steps must be an array of objects"),
        ("not an object", "trace_eval_context must be a JSON object"),
    ],
)
def test_invalid_context_is_an_artifact_error(ctx, message):
    result = score("tool_called", {"tool": "x"}, ctx)
    assert (result.label, result.explanation, result.passed) == ("artifact_error", message, False)


def test_threshold_alias_and_zero_threshold():
    failing = score("tool_called", {"tool": "nope", "threshold": 0}, SAMPLE)
    assert (failing.score, failing.passed, failing.label) == (0.0, True, "not_called")
    assert score("tool_called", {"tool": "nope", "score_threshold": True}, SAMPLE).label == "config_error"


def test_tool_names_use_trimmed_tool_name_not_name():
    ctx = context([tool(1, " search "), {"index": 2, "kind": "tool_call", "name": "lookup"}, tool(3, "  ")])
    result = score("tool_called", {"tool": "lookup"}, ctx)
    assert (result.label, result.metadata["actual_tools"]) == ("not_called", ["search"])


def test_tool_not_called_labels():
    result = score("tool_not_called", {"tool": "search_docs"}, SAMPLE)
    assert (result.score, result.passed, result.label) == (0.0, False, "called")
    assert result.metadata["expected_absent_tool"] == "search_docs"


SEQ = context([tool(1, "a"), tool(2, "b"), tool(3, "a"), tool(4, "c")])


@pytest.mark.parametrize(
    ("name", "config", "ok"),
    [
        ("tool_sequence", {"tools": ["a", "c"]}, True),
        ("tool_sequence", {"tools": ["c", "a"]}, False),
        ("tool_sequence_in_order", {"tools": ["a", "a", "c"]}, True),
        ("tool_sequence_in_order", {"tools": ["a", "a", "a"]}, False),
        ("tool_sequence_exact", {"tools": ["a", "b", "a", "c"]}, True),
        ("tool_sequence_exact", {"tools": ["a", "b", "a"]}, False),
        ("tool_sequence_any_order", {"tools": ["c", "a", "a"]}, True),
        ("tool_sequence_any_order", {"tools": ["b", "b"]}, False),
        ("tool_trajectory", {"tools": ["a", "b", "a", "c"]}, True),
        ("tool_trajectory", {"tools": ["a", "c"]}, False),
        ("tool_trajectory", {"tools": ["a", "c"], "mode": "in_order"}, True),
        ("tool_trajectory", {"tools": ["c", "b"], "mode": "any_order"}, True),
        ("tool_trajectory", {"tools": ["c", "b"], "mode": "in_order", "pattern": "any_order"}, False),
    ],
)
def test_sequence_modes(name, config, ok):
    result = score(name, config, SEQ)
    assert (result.score, result.passed, result.label) == (
        (1.0, True, "matched") if ok else (0.0, False, "not_matched")
    )
    assert result.metadata["expected_tools"] == config["tools"] and result.metadata["actual_tools"] == [
        "a",
        "b",
        "a",
        "c",
    ]


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("tool_sequence", "in_order"),
        ("tool_sequence_in_order", "in_order"),
        ("tool_sequence_exact", "exact"),
        ("tool_sequence_any_order", "any_order"),
        ("tool_trajectory", "exact"),
    ],
)
def test_sequence_metadata_mode(name, mode):
    assert score(name, {"tools": ["a"]}, SEQ).metadata["mode"] == mode


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("tool_called", {}, "tool_called requires `tool` in config"),
        ("tool_not_called", {"tool": "  "}, "tool_not_called requires `tool` in config"),
        ("tool_params_match", {"params": {"status": "x"}}, "tool_params_match requires `tool` in config"),
        ("tool_params_match", {"tool": "t"}, "requires a non-empty `params` object"),
        ("tool_params_match", {"tool": "t", "params": {}}, "requires a non-empty `params` object"),
        ("tool_sequence", {}, "`tools` must be a non-empty array"),
        ("tool_sequence_exact", {"tools": []}, "`tools` must be a non-empty array"),
        ("tool_sequence_any_order", {"tools": "a"}, "`tools` must be a non-empty array"),
        ("tool_sequence_in_order", {"tools": ["a", ""]}, "`tools[1]` must be a non-empty string"),
        ("tool_trajectory", {"tools": ["a", 3]}, "`tools[1]` must be a non-empty string"),
        (
            "tool_trajectory",
            {"tools": ["a"], "mode": "fuzzy"},
            "tool_trajectory mode must be exact, in_order, or any_order",
        ),
        (
            "tool_trajectory",
            {"tools": ["a"], "pattern": 1},
            "tool_trajectory mode must be exact, in_order, or any_order",
        ),
        ("max_tool_calls", {}, "max_tool_calls requires non-negative `max` in config"),
        ("max_llm_calls", {"max": 5.0}, "max_llm_calls requires non-negative `max` in config"),
        ("max_tokens", {"max": -1}, "max_tokens requires non-negative `max` in config"),
        ("max_tokens", {"max": True}, "max_tokens requires non-negative `max` in config"),
        ("duration_under", {"max": 5}, "duration_under requires non-negative `max_ms` in config"),
        ("duration_under", {"max_ms": "40"}, "duration_under requires non-negative `max_ms` in config"),
        ("tool_failure_recovered", {"tool": 3}, "tool_failure_recovered `tool` must be a string"),
        ("tool_failure_recovered", {"errorCode": []}, "tool_failure_recovered `errorCode` must be a string"),
        ("step_efficiency", {"minimum_steps": 2.0}, "step_efficiency `minimum_steps` must be a non-negative integer"),
        ("step_efficiency", {"min_steps": -1}, "step_efficiency `min_steps` must be a non-negative integer"),
        ("plan_quality", {"threshold": "high"}, "plan_quality score_threshold must be between 0 and 1"),
        ("state_equals", {"expected": 1}, "state_equals requires `name` in config"),
        ("state_equals", {"name": "cart"}, "state_equals requires `expected` in config"),
    ],
)
def test_bad_config_is_a_failing_config_error_score(name, config, message):
    result = score(name, config, SAMPLE)
    assert (result.score, result.passed, result.label) == (0.0, False, "config_error")
    assert message in result.explanation
    assert BUILTINS[name].check_config(config) == result.explanation  # create time says the same


@pytest.mark.parametrize("name", sorted(set(TRACE_SCORERS) - BARE_OK))
def test_bare_name_is_rejected_at_create_time(name):
    with pytest.raises(Invalid, match=name):
        parse_scorer_spec(name)
    with pytest.raises(Invalid, match=f"{name}.*(`tool`|`tools`|`max`|`max_ms`|`name`)"):
        parse_scorer_spec(f'{{"name": "{name}", "config": {{}}}}')


@pytest.mark.parametrize("name", sorted(BARE_OK))
def test_bare_name_is_accepted_for_scorers_without_required_config(name):
    assert parse_scorer_spec(name) == {"type": "builtin", "name": name, "config": {}}
    with pytest.raises(Invalid, match=f"{name} score_threshold must be between 0 and 1"):
        parse_scorer_spec(f'{{"name": "{name}", "config": {{"score_threshold": 2}}}}')


def test_params_match_reads_safe_attributes_only():
    ctx = context(
        [
            tool(1, "search", arguments_hash="h1", duration_ms=12, summary_safe=""),
            tool(2, "search", arguments_hash="h2", duration_ms=7.4),
            tool(3, "other", arguments_hash="h2"),
        ]
    )
    hit = score("tool_params_match", {"tool": "search", "params": {"arguments_hash": "h2", "duration_ms": 7}}, ctx)
    assert (hit.label, hit.metadata["matched_step_indexes"], hit.metadata["candidate_count"]) == ("matched", [2], 2)
    assert hit.metadata["mismatches"] == [{"step_index": 1, "mismatched_keys": ["arguments_hash", "duration_ms"]}]
    assert "duration_ms" in hit.metadata["supported_param_keys"] and "query" not in hit.metadata["supported_param_keys"]
    raw = score("tool_params_match", {"tool": "search", "params": {"query": "refunds"}}, ctx)
    assert (raw.passed, raw.label) == (False, "not_matched") and "no call matched" in raw.explanation
    empty = score("tool_params_match", {"tool": "search", "params": {"summary_safe": ""}}, ctx)
    assert not empty.passed  # empty attributes are not attributes
    absent = score("tool_params_match", {"tool": "nope", "params": {"status": "completed"}}, ctx)
    assert (absent.label, absent.metadata["candidate_count"]) == (
        "not_matched",
        0,
    ) and "was not called" in absent.explanation
    number = score("tool_params_match", {"tool": "search", "params": {"duration_ms": 12.0}}, ctx)
    assert not number.passed  # JSON equality: 12 != 12.0


@pytest.mark.parametrize(
    ("name", "config", "features", "ok", "actual"),
    [
        ("max_tool_calls", {"max": 1}, {}, False, 2),
        ("max_tool_calls", {"max": 3}, {"tool_call_count": 3}, True, 3),
        ("max_tool_calls", {"max": 0}, {"tool_call_count": 0}, False, 2),  # 0 in features falls back to the steps
        ("max_llm_calls", {"max": 0}, {}, False, 1),
        ("max_llm_calls", {"max": 4}, {"llm_call_count": 5}, False, 5),
        ("max_tokens", {"max": 40}, {}, True, 40),
        ("max_tokens", {"max": 39}, {}, False, 40),
        ("max_tokens", {"max": 100}, {"total_tokens": 101}, False, 101),
    ],
)
def test_limits(name, config, features, ok, actual):
    ctx = context([tool(1, "a"), tool(2, "b"), llm(3, "", tokens=40)], features)
    result = score(name, config, ctx)
    assert (result.passed, result.label) == (ok, "within_limit" if ok else "over_limit")
    assert (result.metadata["actual"], result.metadata["max"]) == (actual, config["max"])


@pytest.mark.parametrize(
    ("steps", "actual"),
    [
        ([tool(1, "a", started_at=100, ended_at=130), tool(2, "b", started_at=140, ended_at=190)], 90),
        ([tool(1, "a", duration_ms=5), tool(2, "b", duration_ms=-3, started_at=0), tool(3, "c", duration_ms=8)], 13),
        ([tool(1, "a", started_at=100, ended_at=50, duration_ms=4)], 0),  # the latest stamp is the start itself
        ([tool(1, "a", ended_at=70, duration_ms=6)], 6),  # no start: sum of durations
    ],
)
def test_duration_under(steps, actual):
    result = score("duration_under", {"max_ms": 50}, context(steps))
    assert result.metadata["actual_ms"] == actual and result.metadata["max_ms"] == 50
    assert result.label == ("within_limit" if actual <= 50 else "over_limit")


@pytest.mark.parametrize(
    ("steps", "features", "errors"),
    [
        ([tool(1, "a")], {}, 0),
        ([{"index": 1, "kind": "error"}], {}, 1),
        ([tool(1, "a", status="FAILED")], {}, 1),
        ([tool(1, "a", error_code="E")], {}, 1),
        ([tool(1, "a")], {"error_count": 2}, 2),
    ],
)
def test_no_errors(steps, features, errors):
    result = score("no_errors", None, context(steps, features))
    assert result.metadata["error_count"] == errors
    assert (result.passed, result.label) == ((True, "no_errors") if errors == 0 else (False, "has_errors"))


@pytest.mark.parametrize(
    ("steps", "config", "recovered"),
    [
        ([tool(1, "a")], {}, False),  # nothing failed: nothing to recover from
        ([tool(1, "a", status="failed")], {}, False),
        ([tool(1, "a", error_safe="boom", status=""), tool(2, "b", status="", output_hash="h")], {}, True),
        ([tool(1, "a", status="failed"), {"index": 2, "kind": "error", "status": "completed"}], {}, False),
        ([tool(1, "a", status="failed"), {"index": 2, "kind": "state", "status": "completed"}], {}, False),
        ([tool(1, "a", status="failed"), tool(2, "a", status="success", error_code="E")], {}, False),
        ([tool(1, "a", status="failed"), tool(2, "a", status="started")], {}, False),
        ([tool(1, "a", status="failed"), llm(2, "final_response")], {}, True),
        ([tool(2, "a", status="failed"), tool(1, "b")], {}, False),  # progress must come after, by index
        ([tool(1, "a", status="failed", error_code="X"), tool(2, "a")], {"error_code": "Y"}, False),
        ([tool(1, "a", status="failed", error_code="X"), tool(2, "a")], {"errorCode": "X"}, True),
        ([tool(1, "a", status="failed"), tool(2, "b")], {"tool": "b"}, False),
        ([{"index": 1, "kind": "tool_call", "name": "b", "status": "failed"}, tool(2, "c")], {"tool": "b"}, True),
    ],
)
def test_tool_failure_recovered(steps, config, recovered):
    result = score("tool_failure_recovered", config, context(steps))
    assert (result.passed, result.label) == ((True, "recovered") if recovered else (False, "not_recovered"))


def test_state_equals_containers_order_and_json_equality():
    assert score("state_equals", {"name": "n", "expected": 1}, state={"n": 1}, states={"n": 2}).passed
    found = score("state_equals", {"name": "n", "expected": 2}, state={"m": 1}, states={"n": 2})
    assert found.passed and found.metadata["source"] == "states"
    assert score("state_equals", {"name": "n", "expected": 3}, state_snapshots={"n": 3}).passed
    float_vs_int = score("state_equals", {"name": "n", "expected": 1.0}, states={"n": 1})
    assert (float_vs_int.score, float_vs_int.label) == (0.0, "not_matched")
    assert not score("state_equals", {"name": "n", "expected": True}, states={"n": 1}).passed
    assert score("state_equals", {"name": "n", "expected": None}, states={"n": None}).passed
    assert score("state_equals", {"name": "n", "expected": {"a": [1, "x"]}}, states={"n": {"a": [1, "x"]}}).passed
    missing = score("state_equals", {"name": "n", "expected": 1}, states={"m": 1})
    assert (missing.label, missing.passed) == ("artifact_error", False)
    partial = score("state_equals", {"name": "n", "expected": 1, "score_threshold": 0}, states={"n": 2})
    assert (partial.passed, partial.label) == (True, "not_matched")


def test_state_equals_derives_states_from_workflow_events():
    events = [
        {"event_type": "workflow.state.changed", "data": {"name": "cart", "value": {"items": 1}}},
        {"eventType": "workflow.state.changed", "data": {"name": "cart", "value": {"items": 2}}},
        {"event_type": "workflow.state.changed", "name": "stage", "data": {"value": "done"}},
    ]
    assert score("state_equals", {"name": "cart", "expected": {"items": 2}}, events=events).passed
    assert score("state_equals", {"name": "stage", "expected": "done"}, events=events).passed
    given = score("state_equals", {"name": "cart", "expected": {"items": 2}}, events=events, states={"x": 1})
    assert given.label == "artifact_error"  # given `states` replace the derived ones
