"""Trace scorers: judge what the component did, read from a trace_eval_context (reference §3.3).

This module holds the shared rules (context validation, threshold, binary result shape, config checks) and the
tool-name scorers; ``trace_tools`` and ``trace_plans`` hold the others. Every scorer is a pure function of its
input: bad config is a failing ``config_error`` score, a missing or invalid context an ``artifact_error``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from agnt5_evals.domain.scoring.base import ConfigCheck, ScoreResult, ScorerFn, ScorerInput, builtin, config_error
from agnt5_evals.domain.trace import SCHEMA, count, number, text, trace_eval_context

MODES = ("exact", "in_order", "any_order")
MATCH_LABELS = ("matched", "not_matched")
THRESHOLD_1 = {"score_threshold": "number in [0,1] (default 1); alias `threshold`"}
TOOL_SCHEMA = {"tool": "non-empty string (required)", **THRESHOLD_1}
TOOLS_SCHEMA = {"tools": "non-empty array of tool names (required)", **THRESHOLD_1}
_OBJECTS = ("task", "session", "plan", "features", "evidence_refs", "redaction_policy_snapshot")


def trace_builtin(
    name: str, description: str, check: ConfigCheck, schema: dict[str, Any], requires_config: bool = True
) -> Callable[[ScorerFn], ScorerFn]:
    """Register a trace scorer (``kind="trace"``)."""
    return builtin(name, kind="trace", description=description, requires_config=requires_config,
                   check_config=check, config_schema=schema)  # fmt: skip


def threshold(name: str, config: dict[str, Any], default: float = 1.0) -> float | str:
    """``score_threshold`` (or ``threshold``) in [0, 1], else the config error message."""
    value = config.get("score_threshold", config.get("threshold", default))
    if number(value) is None or not 0 <= value <= 1:
        return f"{name} score_threshold must be between 0 and 1"
    return float(value)


def check_threshold(name: str, default: float = 1.0) -> ConfigCheck:
    """A config check that validates only the threshold."""

    def check(config: dict[str, Any]) -> str | None:
        found = threshold(name, config, default)
        return found if isinstance(found, str) else None

    return check


def check_tool(name: str) -> ConfigCheck:
    """``tool`` must be a non-empty string."""

    def check(config: dict[str, Any]) -> str | None:
        if not text(config.get("tool")).strip():
            return f"{name} requires `tool` in config (config.tool is required, a non-empty string)"
        return check_threshold(name)(config)

    return check


def check_tools(name: str) -> ConfigCheck:
    """``tools`` must be a non-empty array of non-empty strings."""

    def check(config: dict[str, Any]) -> str | None:
        tools = config.get("tools")
        if not isinstance(tools, list) or not tools:
            return f"{name}: `tools` must be a non-empty array"
        for position, tool in enumerate(tools):
            if not text(tool).strip():
                return f"{name}: `tools[{position}]` must be a non-empty string"
        return check_threshold(name)(config)

    return check


def check_max(name: str, key: str = "max") -> ConfigCheck:
    """``key`` must be a non-negative integer JSON number (``5.0`` is rejected)."""

    def check(config: dict[str, Any]) -> str | None:
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"{name} requires non-negative `{key}` in config"
        return check_threshold(name)(config)

    return check


def validate_context(ctx: dict[str, Any]) -> str | None:
    """Why a trace_eval_context does not satisfy the v1 schema, or None."""
    if ctx.get("schema_version") != SCHEMA:
        return f"invalid trace eval context schema_version {ctx.get('schema_version')!r}"
    for key in ("project_id", "session_id", "root_run_id"):
        if not text(ctx.get(key)):
            return f"{key} is required"
    for key in _OBJECTS:
        if ctx.get(key) is not None and not isinstance(ctx[key], dict):
            return f"{key} must be an object"
    steps = ctx.get("execution_steps")
    if steps is not None and not isinstance(steps, list):
        return "execution_steps must be an array"
    for step in steps or []:
        if not isinstance(step, dict) or not isinstance(step.get("index"), int) or isinstance(step["index"], bool):
            return "every execution step needs an integer index"
        if step["index"] <= 0:
            return "every execution step needs a positive index"
        if not text(step.get("kind")):
            return "every execution step needs a kind"
    plan_steps = (ctx.get("plan") or {}).get("steps")
    if plan_steps is not None and not (isinstance(plan_steps, list) and all(isinstance(s, dict) for s in plan_steps)):
        return "plan.steps must be an array of objects"
    return None


def _task(value: Any) -> str:
    if isinstance(value, dict):
        value = next((value[k] for k in ("task", "question", "query", "prompt") if isinstance(value.get(k), str)), "")
    return text(value)


def context(inp: ScorerInput) -> dict[str, Any] | str:
    """The trace_eval_context given in ``metadata["trace_eval_context"]``, or derived from the item's events."""
    given = inp.metadata.get("trace_eval_context")
    if given is None:
        events = [e for e in inp.events if isinstance(e, dict)] if isinstance(inp.events, list) else []
        if not events:
            return "trace_eval_context is required for trace metric scoring"
        given = trace_eval_context(
            events,
            session_id=str(inp.metadata.get("run_item_id") or "local"),
            root_run_id=str(inp.metadata.get("run_id") or "local"),
            task=_task(inp.input),
        )
    if not isinstance(given, dict):
        return "trace_eval_context must be a JSON object"
    return validate_context(given) or given


Prepared = tuple[dict[str, Any], float]


def prepare(name: str, inp: ScorerInput, check: ConfigCheck, default: float = 1.0) -> Prepared | ScoreResult:
    """Check config, then load the context: ``(context, threshold)`` or the failing result."""
    if not isinstance(inp.config, dict):
        return config_error(f"{name} config must be a JSON object")
    problem = check(inp.config)
    if problem:
        return config_error(problem)
    ctx = context(inp)
    if isinstance(ctx, str):
        return ScoreResult(0.0, False, "artifact_error", ctx, {"builtin": name})
    return ctx, float(threshold(name, inp.config, default))


def base_metadata(name: str, ctx: dict[str, Any], limit: float) -> dict[str, Any]:
    """Metadata every trace scorer result carries."""
    return {
        "builtin": name,
        "trace_eval_context_schema": SCHEMA,
        "threshold": limit,
        "session_id": ctx["session_id"],
        "root_run_id": ctx["root_run_id"],
        "evidence_refs": ctx.get("evidence_refs") or {},
    }


def verdict(
    name: str, ready: Prepared, ok: bool, labels: tuple[str, str], explanation: str, extras: dict[str, Any]
) -> ScoreResult:
    """A binary result: score 1/0, passed = score >= threshold, label by score."""
    ctx, limit = ready
    score = 1.0 if ok else 0.0
    return ScoreResult(
        score,
        score >= limit,
        labels[0] if ok else labels[1],
        explanation,
        {**base_metadata(name, ctx, limit), **extras},
        evidence={"trace_eval_context": ctx},
    )


def steps(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """The execution steps of a validated context."""
    return list(ctx.get("execution_steps") or [])


def feature(ctx: dict[str, Any], key: str) -> int:
    """A non-negative integer feature (0 when absent or malformed)."""
    return count((ctx.get("features") or {}).get(key))


def tool_steps(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps of kind ``tool_call``."""
    return [s for s in steps(ctx) if s.get("kind") == "tool_call"]


def tool_names(ctx: dict[str, Any]) -> list[str]:
    """Trimmed ``tool_name`` of the tool steps, empty names dropped (``name`` is not used)."""
    names = (text(s.get("tool_name")).strip() for s in tool_steps(ctx))
    return [name for name in names if name]


def _tool_presence(name: str, inp: ScorerInput, absent: bool) -> ScoreResult:
    ready = prepare(name, inp, check_tool(name))
    if isinstance(ready, ScoreResult):
        return ready
    tool = text(inp.config["tool"]).strip()
    actual = tool_names(ready[0])
    called = tool in actual
    calls = ", ".join(actual) or "none"
    explanation = f"tool {tool!r} {'was' if called else 'was not'} called (calls: {calls})"
    if absent:
        extras = {"expected_absent_tool": tool, "actual_tools": actual}
        return verdict(name, ready, not called, ("not_called", "called"), explanation, extras)
    extras = {"expected_tool": tool, "actual_tools": actual}
    return verdict(name, ready, called, ("called", "not_called"), explanation, extras)


@trace_builtin("tool_called", "The component called config.tool at least once.", check_tool("tool_called"), TOOL_SCHEMA)
def tool_called(inp: ScorerInput) -> ScoreResult:
    """Pass iff ``config.tool`` is among the tool names."""
    return _tool_presence("tool_called", inp, absent=False)


@trace_builtin("tool_not_called", "The component never called config.tool.", check_tool("tool_not_called"), TOOL_SCHEMA)
def tool_not_called(inp: ScorerInput) -> ScoreResult:
    """Pass iff ``config.tool`` is not among the tool names."""
    return _tool_presence("tool_not_called", inp, absent=True)


def in_order(expected: list[str], actual: list[str]) -> bool:
    """``expected`` is an ordered subsequence of ``actual`` (gaps allowed)."""
    remaining = iter(actual)
    return all(name in remaining for name in expected)


def any_order(expected: list[str], actual: list[str]) -> bool:
    """Every expected name is matched by a distinct actual call (multiset containment)."""
    return Counter(expected) <= Counter(actual)


MATCHERS: dict[str, Callable[[list[str], list[str]], bool]] = {
    "exact": lambda expected, actual: expected == actual,
    "in_order": in_order,
    "any_order": any_order,
}


def _mode(config: dict[str, Any]) -> str:
    value = config.get("mode", config.get("pattern", "exact"))
    return value if value in MODES else ""


def _check_trajectory(config: dict[str, Any]) -> str | None:
    if not _mode(config):
        return "tool_trajectory mode must be exact, in_order, or any_order"
    return check_tools("tool_trajectory")(config)


def _sequence(name: str, inp: ScorerInput, mode: str | None, check: ConfigCheck) -> ScoreResult:
    ready = prepare(name, inp, check)
    if isinstance(ready, ScoreResult):
        return ready
    mode = mode or _mode(inp.config)
    expected = [text(tool).strip() for tool in inp.config["tools"]]
    actual = tool_names(ready[0])
    ok = MATCHERS[mode](expected, actual)
    explanation = (
        f"tool calls {'match' if ok else 'do not match'} {expected} ({mode}); actual: {', '.join(actual) or 'none'}"
    )
    extras = {"mode": mode, "expected_tools": expected, "actual_tools": actual}
    return verdict(name, ready, ok, MATCH_LABELS, explanation, extras)


def _sequence_scorer(name: str, mode: str, description: str) -> Callable[[ScorerInput], ScoreResult]:
    check = check_tools(name)

    def score(inp: ScorerInput) -> ScoreResult:
        return _sequence(name, inp, mode, check)

    score.__doc__ = description
    return trace_builtin(name, description, check, TOOLS_SCHEMA)(score)


tool_sequence = _sequence_scorer("tool_sequence", "in_order", "config.tools were called in this order (gaps allowed).")
tool_sequence_in_order = _sequence_scorer(
    "tool_sequence_in_order", "in_order", "config.tools were called in this order (gaps allowed)."
)
tool_sequence_exact = _sequence_scorer("tool_sequence_exact", "exact", "The tool calls are exactly config.tools.")
tool_sequence_any_order = _sequence_scorer(
    "tool_sequence_any_order", "any_order", "Every name of config.tools was called (counts respected, any order)."
)


TRAJECTORY_SCHEMA = {**TOOLS_SCHEMA, "mode": "exact | in_order | any_order (default exact); alias `pattern`"}


@trace_builtin(
    "tool_trajectory", "The tool calls match config.tools by config.mode.", _check_trajectory, TRAJECTORY_SCHEMA
)
def tool_trajectory(inp: ScorerInput) -> ScoreResult:
    """Compare the tool names with ``config.tools`` in the mode ``config.mode`` (or ``pattern``)."""
    return _sequence("tool_trajectory", inp, None, _check_trajectory)
