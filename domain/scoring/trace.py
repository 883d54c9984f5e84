"""Trace scorers: judge what the component did (its tool calls), read from a trace_eval_context."""

from __future__ import annotations

from typing import Any

from domain.scoring.base import ScoreResult, ScorerInput, builtin, config_error
from domain.trace import SCHEMA, trace_eval_context


def _threshold(name: str, config: dict[str, Any]) -> float | str:
    value = config.get("score_threshold", config.get("threshold", 1.0))
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return f"{name} score_threshold must be between 0 and 1"
    return float(value)


def _check_tool(name: str) -> Any:
    def check(config: dict[str, Any]) -> str | None:
        tool = config.get("tool")
        if not isinstance(tool, str) or not tool.strip():
            return f"{name}: config.tool is required and must be a non-empty string"
        threshold = _threshold(name, config)
        return threshold if isinstance(threshold, str) else None

    return check


def _context(inp: ScorerInput) -> dict[str, Any] | str:
    """The trace_eval_context, given in metadata or derived from the item's events."""
    given = inp.metadata.get("trace_eval_context")
    ctx = given if isinstance(given, dict) else None
    if ctx is None:
        ctx = trace_eval_context(
            inp.events,
            session_id=str(inp.metadata.get("run_item_id") or "local"),
            root_run_id=str(inp.metadata.get("run_id") or "local"),
        )
    if ctx.get("schema_version") != SCHEMA:
        return f"invalid trace eval context schema_version {ctx.get('schema_version')!r}"
    for key in ("project_id", "session_id", "root_run_id"):
        if not ctx.get(key):
            return f"{key} is required"
    for step in ctx.get("execution_steps") or []:
        if not isinstance(step, dict) or not isinstance(step.get("index"), int) or step["index"] <= 0:
            return "every execution step needs a positive index"
        if not step.get("kind"):
            return "every execution step needs a kind"
    return ctx


def tool_names(ctx: dict[str, Any]) -> list[str]:
    steps = ctx.get("execution_steps") or []
    names = (str(s.get("tool_name") or "").strip() for s in steps if s.get("kind") == "tool_call")
    return [name for name in names if name]


@builtin(
    "tool_called",
    kind="trace",
    description="The component called config.tool at least once.",
    requires_config=True,
    check_config=_check_tool("tool_called"),
    config_schema={"tool": "non-empty string (required)", "score_threshold": "number in [0,1] (default 1)"},
)
def tool_called(inp: ScorerInput) -> ScoreResult:
    error = _check_tool("tool_called")(inp.config)
    if error:
        return config_error(error)
    threshold = float(_threshold("tool_called", inp.config))
    ctx = _context(inp)
    if isinstance(ctx, str):
        return ScoreResult(0.0, False, "artifact_error", ctx)
    tool = str(inp.config["tool"]).strip()
    actual = tool_names(ctx)
    score = 1.0 if tool in actual else 0.0
    return ScoreResult(
        score,
        score >= threshold,
        "called" if score else "not_called",
        f"tool {tool!r} {'was' if score else 'was not'} called (calls: {', '.join(actual) or 'none'})",
        metadata={
            "builtin": "tool_called",
            "trace_eval_context_schema": SCHEMA,
            "threshold": threshold,
            "session_id": ctx["session_id"],
            "root_run_id": ctx["root_run_id"],
            "evidence_refs": ctx.get("evidence_refs") or {},
            "expected_tool": tool,
            "actual_tools": actual,
        },
        evidence={"trace_eval_context": ctx},
    )
