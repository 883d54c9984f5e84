"""Trace metrics over the plan and the steps: step_efficiency, plan_adherence, plan_quality."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.test_trace_scorers import PLAN_SAMPLE, context, llm, score, tool


def with_features(**features: Any) -> dict[str, Any]:
    ctx = copy.deepcopy(PLAN_SAMPLE)
    ctx["features"].update(features)
    return ctx


@pytest.mark.parametrize(
    ("ctx", "config", "want"),
    [
        (context([tool(1, "a"), llm(2, "final_response")], {"unique_tool_call_count": 1}), {}, (1.0, "efficient")),
        (with_features(duplicate_tool_calls=[], off_path_steps=[]), {}, (5 / 6, "needs_review")),  # 1 - 1/(3+2+1)
        (with_features(duplicate_tool_calls=[], off_path_steps=[]), {"threshold": 0.9}, (5 / 6, "needs_review")),
        (with_features(duplicate_tool_calls=[], off_path_steps=[]), {"minimum_steps": 3}, (1.0, "efficient")),
        (with_features(duplicate_tool_calls=[], off_path_steps=[]), {"min_steps": 0}, (0.5, "needs_review")),
        (with_features(error_count=4, retry_groups=[{"step_ids": [2, 3, 4]}]), {}, (5 / 14, "inefficient")),
        (context([]), {}, (1.0, "efficient")),
    ],
)
def test_step_efficiency_cases(ctx, config, want):
    result = score("step_efficiency", config, ctx)
    assert result.score == pytest.approx(want[0]) and result.label == want[1]
    assert result.passed == (result.score >= config.get("threshold", 0.8))


def test_step_efficiency_minimum_sources():
    inferred = score("step_efficiency", {}, context([llm(1, "planning")], {"llm_call_count": 1}))
    assert (inferred.metadata["minimum_source"], inferred.metadata["minimum_steps"]) == ("inferred", 1)
    assert inferred.metadata["actual_steps"] == 0 and inferred.score == 1.0
    configured = score("step_efficiency", {"minimum_steps": 0}, context([]))
    assert (configured.metadata["minimum_source"], configured.score) == ("config", 1.0)


def test_step_efficiency_passed_below_095_is_needs_review_and_below_05_inefficient():
    ctx = with_features(duplicate_tool_calls=[], off_path_steps=[])
    assert score("step_efficiency", {"threshold": 0.5}, ctx).label == "needs_review"
    low = score("step_efficiency", {"threshold": 0.1}, with_features(error_count=20))
    assert low.passed and low.label == "inefficient"


@pytest.mark.parametrize(
    ("features", "steps_links", "want_score", "label"),
    [
        ({"off_path_steps": []}, None, 1.0, "adhered"),
        ({"plan_steps_matched": 0, "off_path_steps": []}, [1, None, None, None], 0.5, "partial_adherence"),
        ({"plan_steps_matched": 0, "off_path_steps": [], "plan_steps_missing": []}, [None] * 4, 0.0, "not_adhered"),
        ({"plan_steps_matched": 5, "off_path_steps": []}, None, 1.0, "adhered"),  # capped at total
        ({"retry_groups": [{"step_ids": [2, 3]}], "error_count": 1}, None, 0.4, "not_adhered"),
    ],
)
def test_plan_adherence_cases(features, steps_links, want_score, label):
    ctx = with_features(**features)
    if steps_links is not None:
        for step, link in zip(ctx["execution_steps"], steps_links, strict=True):
            step["matches_plan_step"] = link
    result = score("plan_adherence", {}, ctx)
    assert result.score == pytest.approx(want_score) and result.label == label


@pytest.mark.parametrize(
    "ctx",
    [
        context([]),
        context([], plan={"detected": False, "steps": [{"text_safe": "search docs"}]}),
        context([], plan={"detected": True, "steps": []}),
    ],
)
@pytest.mark.parametrize("name", ["plan_quality", "plan_adherence"])
def test_no_plan(name, ctx):
    result = score(name, {}, ctx)
    assert (result.score, result.passed, result.label) == (0.0, False, "no_plan")
    assert result.metadata["reason"] == "no_plan_detected"


def plan_ctx(steps: list[Any], task: str | None = None) -> dict[str, Any]:
    planned = [s if isinstance(s, dict) else {"text_safe": s} for s in steps]
    return context([], plan={"detected": True, "steps": planned}, **({"task": {"text_safe": task}} if task else {}))


def test_plan_quality_sub_scores():
    vague = score("plan_quality", {}, plan_ctx(["think"]))
    # 1 step 0.7, specificity 0 -> structure 0.35; completeness 0; order 1; no task -> relevance 0.75
    assert vague.score == pytest.approx(0.25 * 0.35 + 0.2 * 1 + 0.25 * 0.75)
    assert (vague.label, vague.passed, vague.metadata["task_present"]) == ("poor_plan", False, False)
    mixed = plan_ctx(
        [
            {"index": 1, "text_safe": "Answer the customer quickly", "expected_action": "final_answer"},
            {"index": 3, "text_safe": "Lookup the order status", "expected_action": "tool_call"},
            {"index": 3, "text_safe": "lookup order status!", "expected_action": "read_result"},
        ],
        task="zebra",
    )
    result = score("plan_quality", {}, mixed)
    # order: -0.2 (index 3 at position 2), -0.25 (repeated key), -0.25 (final before work) -> 0.3
    assert result.metadata["order"] == pytest.approx(0.3)
    assert result.metadata["completeness"] == pytest.approx(1.0) and result.metadata["relevance"] == pytest.approx(0.4)
    assert result.metadata["specificity"] == pytest.approx(1.0)
    assert result.score == pytest.approx(0.25 * 1.0 + 0.3 * 1.0 + 0.2 * 0.3 + 0.25 * 0.4)
    assert result.label == "needs_review"


@pytest.mark.parametrize(("count", "want"), [(1, 0.7), (2, 1.0), (6, 1.0), (7, 0.8), (10, 0.8), (11, 0.55)])
def test_plan_quality_step_count_score(count, want):
    steps = [f"fetch record number{i} carefully" for i in range(count)]
    assert score("plan_quality", {}, plan_ctx(steps)).metadata["step_count_score"] == want


def test_plan_quality_tokenizer_and_generic_steps():
    from agnt5_evals.domain.scoring.trace_plans import tokens

    assert tokens("Search the DOCS, then answer_now: ok/x9y!") == ["search", "docs", "answer_now", "x9y"]
    generic = score("plan_quality", {}, plan_ctx(["Complete task", "do it"]))
    assert generic.metadata["specificity"] == 0.0
    relevant = score("plan_quality", {}, plan_ctx(["search refund policy docs"], task="refund policy question"))
    assert relevant.metadata["relevance"] == pytest.approx(2 / 3)
    assert relevant.metadata["completeness"] == pytest.approx(0.5)  # work + one step bonus


@pytest.mark.parametrize(
    ("minimum", "want", "label"),
    [(10, 1 - 1 / 21, "efficient"), (5, 1 - 1 / 11, "needs_review")],
)
def test_step_efficiency_efficient_needs_095(minimum, want, label):
    steps = [tool(i, f"t{i}") for i in range(1, minimum + 1)]
    result = score("step_efficiency", {"minimum_steps": minimum}, context(steps, {"error_count": 1}))
    assert result.score == pytest.approx(want) and result.passed and result.label == label
