"""Property tests: every trace scorer, on any JSON-ish events, context and config, returns a score in [0, 1],
is deterministic and never raises."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agnt5_evals.domain.scoring import BUILTINS, ScorerInput
from agnt5_evals.domain.trace import SCHEMA, trace_eval_context

TRACE_SCORERS = sorted(name for name, scorer in BUILTINS.items() if scorer.kind == "trace")
EVENT_TYPES = [
    "tool.call.started",
    "tool.call.completed",
    "tool.call.failed",
    "lm.call.completed",
    "lm.failed",
    "lm.completed",
    "function.failed",
    "plan.created",
    "plan.updated",
    "workflow.state.changed",
    "run.started",
]
KEYS = [
    "tool_name",
    "toolName",
    "tool_call_id",
    "arguments",
    "result",
    "duration_ms",
    "total_tokens",
    "role",
    "error_code",
    "error",
    "status",
    "steps",
    "task",
    "plan_step",
    "name",
    "value",
    "text",
    "index",
    "expected_action",
    "expected_tool",
    "arguments_hash",
    "output_hash",
    "kind",
    "tokens",
    "started_at",
    "ended_at",
    "matches_plan_step",
    "step_ids",
    "tool",
    "tools",
    "max",
    "max_ms",
    "params",
    "mode",
    "pattern",
    "score_threshold",
    "threshold",
    "minimum_steps",
    "min_steps",
    "expected",
    "errorCode",
    "detected",
    "tool_call_count",
    "llm_call_count",
    "total_tokens",
    "error_count",
    "unique_tool_call_count",
    "plan_steps_total",
    "plan_steps_matched",
    "plan_steps_missing",
    "duplicate_tool_calls",
    "off_path_steps",
    "retry_groups",
    "text_safe",
]
NAMES = st.sampled_from(["search_docs", "lookup_order", "a", " a ", ""])

scalars = st.none() | st.booleans() | st.integers(-5, 60) | st.floats(allow_nan=False, allow_infinity=False)
scalars = (
    scalars
    | st.sampled_from(
        [
            "",
            "a",
            "search_docs",
            "failed",
            "completed",
            "final_answer",
            "tool_call",
            "planning",
            "final_response",
            "exact",
            "any_order",
            "in_order",
        ]
    )
    | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)
events = st.lists(
    json_values
    | st.fixed_dictionaries(
        {"event_type": st.sampled_from(EVENT_TYPES), "data": objects | json_values},
        optional={"timestamp_ns": json_values, "correlation_id": st.sampled_from(["a", "b"]), "name": json_values},
    ),
    max_size=8,
)
steps = st.lists(
    st.fixed_dictionaries(
        {"index": st.integers(1, 9), "kind": st.sampled_from(["tool_call", "llm_call", "error", "state"])}
    ).flatmap(lambda base: objects.map(lambda extra: {**extra, **base})),
    max_size=6,
)
plans = st.fixed_dictionaries({"detected": st.booleans(), "steps": st.lists(objects, max_size=5)}) | objects
contexts = (
    st.fixed_dictionaries(
        {
            "schema_version": st.just(SCHEMA),
            "project_id": st.just("p"),
            "session_id": st.just("s"),
            "root_run_id": st.just("r"),
            "execution_steps": steps,
        },
        optional={"features": objects, "plan": plans, "task": objects, "evidence_refs": objects},
    )
    | json_values
)
# Mostly-valid configs (so the scoring paths run), and arbitrary ones (so the checks run).
good_configs = st.fixed_dictionaries(
    {
        "tool": NAMES,
        "tools": st.lists(NAMES, min_size=1, max_size=4),
        "max": st.integers(0, 5),
        "max_ms": st.integers(0, 100),
        "name": st.sampled_from(["cart", "n"]),
        "expected": json_values,
        "params": st.dictionaries(
            st.sampled_from(["arguments_hash", "status", "duration_ms"]), scalars, min_size=1, max_size=2
        ),
    },
    optional={
        "mode": st.sampled_from(["exact", "in_order", "any_order"]),
        "minimum_steps": st.integers(0, 4),
        "score_threshold": st.floats(0, 1),
        "error_code": NAMES,
    },
)
configs = good_configs | objects


def run(name: str, inp: ScorerInput) -> tuple[float, bool, str | None]:
    result = BUILTINS[name].fn(inp)
    assert isinstance(result.score, float) and 0.0 <= result.score <= 1.0
    assert isinstance(result.passed, bool)
    assert result.passed == (result.score >= (result.metadata or {}).get("threshold", 2)) or result.label in (
        "config_error",
        "artifact_error",
        "no_plan",
    )
    return result.score, result.passed, result.label


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(name=st.sampled_from(TRACE_SCORERS), events=events, config=configs)
def test_scorers_on_arbitrary_events_are_bounded_deterministic_and_total(name, events, config):
    inp = ScorerInput(output=None, config=config, events=events, metadata={"run_id": "r", "run_item_id": "i"})
    snapshot = copy.deepcopy(events)
    assert run(name, inp) == run(name, inp)
    assert events == snapshot  # scoring does not mutate the item's events


@SETTINGS
@given(name=st.sampled_from(TRACE_SCORERS), ctx=contexts, config=configs, state=json_values)
def test_scorers_on_arbitrary_contexts_are_bounded_deterministic_and_total(name, ctx, config, state):
    states = state if isinstance(state, dict) else None
    inp = ScorerInput(output=None, config=config, metadata={"trace_eval_context": ctx}, states=states)
    assert run(name, inp) == run(name, inp)


@SETTINGS
@given(name=st.sampled_from(TRACE_SCORERS), config=configs)
def test_create_time_checks_never_raise(name, config):
    check = BUILTINS[name].check_config
    assert check is not None
    problem = check(config)
    assert problem is None or (isinstance(problem, str) and name in problem)


@SETTINGS
@given(events=events)
def test_derivation_is_deterministic_and_valid(events):
    first = trace_eval_context(events, session_id="s", root_run_id="r")
    assert first == trace_eval_context(events, session_id="s", root_run_id="r")
    assert [s["index"] for s in first["execution_steps"]] == list(range(1, len(first["execution_steps"]) + 1))
    features = first["features"]
    assert features["execution_step_count"] == len(first["execution_steps"])
    assert 0 <= features["plan_steps_matched"] <= features["plan_steps_total"]
