"""Trace metrics over the plan and the steps: step_efficiency, plan_adherence, plan_quality (reference §3.3)."""

from __future__ import annotations

import re
from typing import Any

from agnt5_evals.domain.scoring.base import ConfigCheck, ScoreResult, ScorerInput, builtin
from agnt5_evals.domain.scoring.trace import Prepared, base_metadata, check_threshold, feature, prepare, steps
from agnt5_evals.domain.trace import text

DEFAULT_THRESHOLD = 0.8
THRESHOLD_SCHEMA = {"score_threshold": "number in [0,1] (default 0.8)"}
STOP_WORDS = frozenset(
    {
        "about",
        "after",
        "again",
        "also",
        "and",
        "answer",
        "are",
        "ask",
        "for",
        "from",
        "into",
        "the",
        "then",
        "this",
        "that",
        "task",
        "their",
        "them",
        "they",
        "with",
        "will",
        "you",
        "your",
    }
)
GENERIC_STEPS = frozenset({"", "do it", "complete task", "solve task", "answer", "respond", "think", "plan"})
WORK_ACTIONS = ("tool_call", "read_result")
WORK_WORDS = ("search", "lookup", "read", "fetch")
FINAL_WORDS = ("answer", "respond", "summar")


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def graded_label(score: float, passed: bool, labels: tuple[str, str, str]) -> str:
    """``labels[0]`` when passed, ``labels[1]`` when score >= 0.5, else ``labels[2]``."""
    return labels[0] if passed else labels[1] if score >= 0.5 else labels[2]


def _metric(name: str, ready: Prepared, score: float, label: str, explanation: str, **extras: Any) -> ScoreResult:
    ctx, limit = ready
    metadata = {**base_metadata(name, ctx, limit), **extras}
    return ScoreResult(score, score >= limit, label, explanation, metadata, evidence={"trace_eval_context": ctx})


def _no_plan(name: str, ready: Prepared) -> ScoreResult:
    ctx, limit = ready
    metadata = {**base_metadata(name, ctx, limit), "reason": "no_plan_detected"}
    return ScoreResult(
        0.0, False, "no_plan", "no plan detected in the trace", metadata, evidence={"trace_eval_context": ctx}
    )


def _extra_steps(groups: Any) -> int:
    """Sum of (len(step_ids) - 1) over groups such as features.duplicate_tool_calls or features.retry_groups."""
    items = groups if isinstance(groups, list) else []
    return sum(
        max(len(g["step_ids"]) - 1, 0) for g in items if isinstance(g, dict) and isinstance(g.get("step_ids"), list)
    )


def _length(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def _check_min_steps(config: dict[str, Any]) -> str | None:
    for key in ("minimum_steps", "min_steps"):
        value = config.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return f"step_efficiency `{key}` must be a non-negative integer"
    return check_threshold("step_efficiency", DEFAULT_THRESHOLD)(config)


def _minimum(ctx: dict[str, Any], config: dict[str, Any], actual: int) -> tuple[int, str]:
    configured = config.get("minimum_steps", config.get("min_steps"))
    if isinstance(configured, int):
        return configured, "config"
    if feature(ctx, "plan_steps_total") > 0:
        return feature(ctx, "plan_steps_total"), "plan"
    all_steps = steps(ctx)
    llm = sum(s.get("kind") == "llm_call" for s in all_steps)
    final = sum(s.get("kind") == "llm_call" and s.get("role") == "final_response" for s in all_steps)
    inferred = feature(ctx, "unique_tool_call_count") + final
    if inferred == 0 and ((feature(ctx, "llm_call_count") or llm) > 0 or actual > 0):
        inferred = 1
    return inferred, "inferred"


@builtin(
    "step_efficiency",
    kind="trace",
    description="Steps taken versus the minimum needed, with penalties.",
    check_config=_check_min_steps,
    config_schema={"minimum_steps": "non-negative integer (optional; alias min_steps)", **THRESHOLD_SCHEMA},
)
def step_efficiency(inp: ScorerInput) -> ScoreResult:
    """1 - penalty / (actual + minimum + penalty); penalties: excess, duplicate, off-path, retry, error steps."""
    ready = prepare("step_efficiency", inp, _check_min_steps, DEFAULT_THRESHOLD)
    if isinstance(ready, ScoreResult):
        return ready
    ctx, features = ready[0], ready[0].get("features") or {}
    actual = sum(not (s.get("kind") == "llm_call" and s.get("role") == "planning") for s in steps(ctx))
    minimum, source = _minimum(ctx, inp.config, actual)
    parts = {
        "excess_steps": max(actual - minimum, 0),
        "duplicate_steps": _extra_steps(features.get("duplicate_tool_calls")),
        "off_path_steps": _length(features.get("off_path_steps")),
        "retry_steps": _extra_steps(features.get("retry_groups")),
        "error_count": feature(ctx, "error_count"),
    }
    penalty = sum(parts.values())
    denominator = actual + minimum + penalty
    score = _clamp(1 - penalty / denominator) if denominator > 0 and penalty > 0 else 1.0
    explanation = (
        f"step efficiency score {score:.3f}: actual_steps={actual}, minimum_steps={minimum}, penalties={penalty}"
    )
    passed = score >= ready[1]
    label = "efficient" if passed and score >= 0.95 else graded_label(score, False, ("", "needs_review", "inefficient"))
    return _metric(
        "step_efficiency",
        ready,
        score,
        label,
        explanation,
        actual_steps=actual,
        minimum_steps=minimum,
        minimum_source=source,
        penalty=penalty,
        **parts,
    )


def _plan(ctx: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
    plan = ctx.get("plan") or {}
    return plan.get("detected") is True, list(plan.get("steps") or [])


@builtin(
    "plan_adherence",
    kind="trace",
    description="Share of the plan's steps the trace carried out.",
    check_config=check_threshold("plan_adherence", DEFAULT_THRESHOLD),
    config_schema=THRESHOLD_SCHEMA,
)
def plan_adherence(inp: ScorerInput) -> ScoreResult:
    """matched plan steps / (plan steps + off-path + retry + error steps)."""
    ready = prepare("plan_adherence", inp, check_threshold("plan_adherence", DEFAULT_THRESHOLD), DEFAULT_THRESHOLD)
    if isinstance(ready, ScoreResult):
        return ready
    ctx, features = ready[0], ready[0].get("features") or {}
    detected, plan_steps = _plan(ctx)
    total = feature(ctx, "plan_steps_total") or len(plan_steps)
    if not detected or total == 0:
        return _no_plan("plan_adherence", ready)
    links = [s.get("matches_plan_step") for s in steps(ctx)]
    distinct = len({v for v in links if isinstance(v, int) and not isinstance(v, bool)})
    matched = min(feature(ctx, "plan_steps_matched") or distinct, total)
    missing = _length(features.get("plan_steps_missing")) or (total - matched if matched < total else 0)
    off, retry = _length(features.get("off_path_steps")), _extra_steps(features.get("retry_groups"))
    errors = feature(ctx, "error_count")
    denominator = total + off + retry + errors
    score = _clamp(matched / denominator) if denominator > 0 else 0.0
    deviations = missing + off + retry + errors
    explanation = f"plan adherence score {score:.3f}: matched {matched}/{total} plan steps, deviations={deviations}"
    label = graded_label(score, score >= ready[1], ("adhered", "partial_adherence", "not_adhered"))
    return _metric(
        "plan_adherence",
        ready,
        score,
        label,
        explanation,
        plan_steps_total=total,
        plan_steps_matched=matched,
        plan_steps_missing=missing,
        off_path_steps=off,
        retry_steps=retry,
        error_count=errors,
        deviation_count=deviations,
    )


def tokens(value: str) -> list[str]:
    """Meaningful tokens: lowercase ASCII alphanumeric/underscore runs of length >= 3, stop words dropped."""
    return [t for t in re.split(r"[^a-z0-9_]+", value.lower()) if len(t) >= 3 and t not in STOP_WORDS]


def step_count_score(n: int) -> float:
    """0 steps 0, 1 step 0.7, 2-6 steps 1.0, 7-10 steps 0.8, more 0.55."""
    return 0.0 if n == 0 else 0.7 if n == 1 else 1.0 if n <= 6 else 0.8 if n <= 10 else 0.55


def _completeness(plan_steps: list[dict[str, Any]]) -> float:
    texts = [text(s.get("text_safe")).lower() for s in plan_steps]
    actions = [text(s.get("expected_action")) for s in plan_steps]
    work = any(a in WORK_ACTIONS for a in actions) or any(w in t for t in texts for w in WORK_WORDS)
    final = "final_answer" in actions or any(w in t for t in texts for w in FINAL_WORDS)
    bonus = 0.1 if len(plan_steps) >= 2 else 0.05 if work or final else 0.0
    return _clamp(0.45 * work + 0.45 * final + bonus)


def _order(plan_steps: list[dict[str, Any]]) -> float:
    score, seen = 1.0, set()
    for position, step in enumerate(plan_steps):
        index = step.get("index")
        if isinstance(index, int) and not isinstance(index, bool) and index != 0 and index != position + 1:
            score -= 0.2
        key = " ".join(tokens(text(step.get("text_safe"))))
        if key and key in seen:
            score -= 0.25
        seen.add(key)
    actions = [text(s.get("expected_action")) for s in plan_steps]
    first_final = actions.index("final_answer") if "final_answer" in actions else None
    first_work = next((n for n, a in enumerate(actions) if a in WORK_ACTIONS), None)
    if first_final is not None and first_work is not None and first_final < first_work:
        score -= 0.25
    return _clamp(score)


def _relevance(task: str, plan_steps: list[dict[str, Any]], completeness: float) -> float:
    task_tokens = set(tokens(task))
    if not task_tokens:
        return 0.75
    plan_tokens = {t for s in plan_steps for t in tokens(text(s.get("text_safe")))}
    relevance = len(task_tokens & plan_tokens) / min(len(task_tokens), 5)
    return _clamp(0.4 if relevance == 0 and completeness > 0 else relevance)


def plan_scores(plan_steps: list[dict[str, Any]], task: str) -> dict[str, float]:
    """The sub-scores of plan_quality and their weighted score."""
    texts = [text(s.get("text_safe")) for s in plan_steps]
    specific = sum(len(tokens(t)) >= 2 and t.strip().lower() not in GENERIC_STEPS for t in texts)
    parts = {
        "step_count_score": step_count_score(len(plan_steps)),
        "specificity": specific / len(plan_steps) if plan_steps else 0.0,
    }
    parts["structure"] = (parts["step_count_score"] + parts["specificity"]) / 2
    parts["completeness"] = _completeness(plan_steps)
    parts["order"] = _order(plan_steps)
    parts["relevance"] = _relevance(task, plan_steps, parts["completeness"])
    weights = {"structure": 0.25, "completeness": 0.30, "order": 0.20, "relevance": 0.25}
    parts["score"] = _clamp(sum(parts[k] * w for k, w in weights.items()))
    return parts


@builtin(
    "plan_quality",
    kind="trace",
    description="Structure, completeness, order and relevance of the plan.",
    check_config=check_threshold("plan_quality", DEFAULT_THRESHOLD),
    config_schema=THRESHOLD_SCHEMA,
)
def plan_quality(inp: ScorerInput) -> ScoreResult:
    """0.25·structure + 0.30·completeness + 0.20·order + 0.25·relevance of the detected plan."""
    check: ConfigCheck = check_threshold("plan_quality", DEFAULT_THRESHOLD)
    ready = prepare("plan_quality", inp, check, DEFAULT_THRESHOLD)
    if isinstance(ready, ScoreResult):
        return ready
    detected, plan_steps = _plan(ready[0])
    if not detected or not plan_steps:
        return _no_plan("plan_quality", ready)
    task_field = ready[0].get("task") or {}
    task = text(task_field.get("text_safe"))
    parts = plan_scores(plan_steps, task)
    score = parts.pop("score")
    explanation = f"plan quality score {score:.3f}: " + ", ".join(f"{k}={v:.3f}" for k, v in parts.items())
    label = graded_label(score, score >= ready[1], ("good_plan", "needs_review", "poor_plan"))
    return _metric(
        "plan_quality",
        ready,
        score,
        label,
        explanation,
        step_count=len(plan_steps),
        task_present=bool(task.strip()),
        **parts,
    )
