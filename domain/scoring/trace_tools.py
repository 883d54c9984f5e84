"""Trace scorers over tool-call attributes, limits, errors, recovery and workflow state (reference §3.3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agnt5_evals.domain.scoring.base import ScoreResult, ScorerInput, config_error
from agnt5_evals.domain.scoring.trace import (
    MATCH_LABELS,
    THRESHOLD_1,
    check_max,
    check_threshold,
    feature,
    prepare,
    steps,
    threshold,
    tool_steps,
    trace_builtin,
    verdict,
)
from agnt5_evals.domain.trace import count, number, text, workflow_states

SAFE_KEYS = ("tool_name", "name", "status", "summary_safe", "arguments_ref", "arguments_hash", "result_ref",
             "result_hash", "input_hash", "output_hash")  # fmt: skip
SUPPORTED_PARAM_KEYS = sorted((*SAFE_KEYS, "duration_ms"))
LIMIT_LABELS = ("within_limit", "over_limit")
PARAMS_SCHEMA = {"tool": "non-empty string (required)", "params": "non-empty object (required)", **THRESHOLD_1}
RECOVERY_SCHEMA = {"tool": "string (optional)", "error_code": "string (optional; alias errorCode)", **THRESHOLD_1}
DURATION_SCHEMA = {"max_ms": "non-negative integer (required)", **THRESHOLD_1}
STATE_SCHEMA = {"name": "non-empty string (required)", "expected": "any JSON value (required)", **THRESHOLD_1}


def json_equal(left: Any, right: Any) -> bool:
    """JSON value equality as serde_json has it (``1`` != ``1.0``, ``true`` != ``1``); iterative, so any depth works."""
    pending = [(left, right)]
    while pending:
        a, b = pending.pop()
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            pending.extend(zip(a, b, strict=True))
        elif isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
            pending.extend((a[key], b[key]) for key in a)
        elif not (type(a) is type(b) and isinstance(a, bool | int | float | str | None) and a == b):
            return False
    return True


def safe_attributes(step: dict[str, Any]) -> dict[str, Any]:
    """The redaction-safe attributes of a tool step: the non-empty ones of SAFE_KEYS, plus ``duration_ms``."""
    attributes: dict[str, Any] = {key: text(step.get(key)) for key in SAFE_KEYS if text(step.get(key))}
    if "tool_name" in attributes:
        attributes["tool_name"] = attributes["tool_name"].strip()
    attributes["duration_ms"] = max(round(number(step.get("duration_ms")) or 0), 0)
    return attributes


def _check_params(config: dict[str, Any]) -> str | None:
    if not text(config.get("tool")).strip():
        return "tool_params_match requires `tool` in config"
    if not isinstance(config.get("params"), dict) or not config["params"]:
        return "tool_params_match requires a non-empty `params` object in config"
    return check_threshold("tool_params_match")(config)


def _params_explanation(tool: str, candidates: int, matched: list[int], params: dict[str, Any]) -> str:
    if not candidates:
        return f"tool {tool!r} was not called"
    if matched:
        return f"call(s) {matched} of tool {tool!r} matched params {sorted(params)}"
    return f"tool {tool!r} was called {candidates} time(s) but no call matched params {sorted(params)}"


@trace_builtin("tool_params_match", "A call of config.tool has safe attributes equal to config.params.",
               _check_params, PARAMS_SCHEMA)  # fmt: skip
def tool_params_match(inp: ScorerInput) -> ScoreResult:
    """Pass iff any step of ``config.tool`` has safe attributes equal to every key/value of ``config.params``."""
    ready = prepare("tool_params_match", inp, _check_params)
    if isinstance(ready, ScoreResult):
        return ready
    tool, params = text(inp.config["tool"]).strip(), inp.config["params"]
    candidates = [s for s in tool_steps(ready[0]) if text(s.get("tool_name")).strip() == tool]
    matched, mismatches = [], []
    for step in candidates:
        attributes = safe_attributes(step)
        wrong = [k for k, v in params.items() if k not in attributes or not json_equal(attributes[k], v)]
        if wrong:
            mismatches.append({"step_index": step["index"], "mismatched_keys": wrong})
        else:
            matched.append(step["index"])
    extras = {"candidate_count": len(candidates), "matched_step_indexes": matched, "mismatches": mismatches,
              "supported_param_keys": SUPPORTED_PARAM_KEYS}  # fmt: skip
    explanation = _params_explanation(tool, len(candidates), matched, params)
    return verdict("tool_params_match", ready, bool(matched), MATCH_LABELS, explanation, extras)


def _kind_count(kind: str) -> Callable[[list[dict[str, Any]]], int]:
    return lambda all_steps: sum(s.get("kind") == kind for s in all_steps)


def _limit_scorer(name: str, key: str, fallback: Callable[[list[dict[str, Any]]], int], what: str) -> None:
    """Register ``name``: pass iff ``features[key]`` (when > 0, else ``fallback(steps)``) <= ``config.max``."""
    check = check_max(name)

    def score(inp: ScorerInput) -> ScoreResult:
        ready = prepare(name, inp, check)
        if isinstance(ready, ScoreResult):
            return ready
        actual, limit = feature(ready[0], key) or fallback(steps(ready[0])), inp.config["max"]
        explanation = f"{actual} {what}, limit {limit}"
        return verdict(name, ready, actual <= limit, LIMIT_LABELS, explanation, {"actual": actual, "max": limit})

    description = f"At most config.max {what} (features.{key}, else counted from the steps)."
    score.__doc__ = description
    trace_builtin(name, description, check, {"max": "non-negative integer (required)", **THRESHOLD_1})(score)


_limit_scorer("max_tool_calls", "tool_call_count", _kind_count("tool_call"), "tool calls")
_limit_scorer("max_llm_calls", "llm_call_count", _kind_count("llm_call"), "LLM calls")
_limit_scorer("max_tokens", "total_tokens", lambda all_steps: sum(count(s.get("tokens")) for s in all_steps), "tokens")


def duration_ms(ctx: dict[str, Any]) -> int | float:
    """Last timestamp minus first ``started_at`` when both exist in order, else the sum of ``duration_ms``."""
    all_steps = steps(ctx)
    starts = [v for s in all_steps if (v := number(s.get("started_at"))) is not None and v > 0]
    stamps = [v for s in all_steps for k in ("started_at", "ended_at") if (v := number(s.get(k))) is not None and v > 0]
    if starts and stamps and max(stamps) >= min(starts):
        return max(stamps) - min(starts)
    return sum(max(number(s.get("duration_ms")) or 0, 0) for s in all_steps)


@trace_builtin("duration_under", "The trace lasted at most config.max_ms milliseconds.",
               check_max("duration_under", "max_ms"), DURATION_SCHEMA)  # fmt: skip
def duration_under(inp: ScorerInput) -> ScoreResult:
    """Pass iff the trace duration (milliseconds) is at most ``config.max_ms``."""
    ready = prepare("duration_under", inp, check_max("duration_under", "max_ms"))
    if isinstance(ready, ScoreResult):
        return ready
    actual, limit = duration_ms(ready[0]), inp.config["max_ms"]
    explanation = f"duration {actual} ms, limit {limit} ms"
    return verdict("duration_under", ready, actual <= limit, LIMIT_LABELS, explanation,
                   {"actual_ms": actual, "max_ms": limit})  # fmt: skip


def is_error(step: dict[str, Any]) -> bool:
    """An error step: kind ``error``, a non-empty ``error_code``, or status ``failed`` (any case)."""
    failed = text(step.get("status")).lower() == "failed"
    return step.get("kind") == "error" or bool(text(step.get("error_code"))) or failed


@trace_builtin("no_errors", "The trace has no error steps.", check_threshold("no_errors"), THRESHOLD_1, False)
def no_errors(inp: ScorerInput) -> ScoreResult:
    """Pass iff the error count (features.error_count, else error steps) is 0."""
    ready = prepare("no_errors", inp, check_threshold("no_errors"))
    if isinstance(ready, ScoreResult):
        return ready
    failing = [s["index"] for s in steps(ready[0]) if is_error(s)]
    errors = feature(ready[0], "error_count") or len(failing)
    extras = {"error_count": errors, "error_step_indexes": failing}
    return verdict(
        "no_errors", ready, errors == 0, ("no_errors", "has_errors"), f"{errors} error(s) in the trace", extras
    )


def _check_recovery(config: dict[str, Any]) -> str | None:
    for key in ("tool", "error_code", "errorCode"):
        if config.get(key) is not None and not isinstance(config[key], str):
            return f"tool_failure_recovered `{key}` must be a string"
    return check_threshold("tool_failure_recovered")(config)


def _failed_tool(step: dict[str, Any], tool: str, code: str) -> bool:
    failed = text(step.get("status")).lower() == "failed" or bool(
        text(step.get("error_code")) or text(step.get("error_safe"))
    )
    names = (text(step.get("tool_name")).strip(), text(step.get("name")).strip())
    return failed and (not tool or tool in names) and (not code or text(step.get("error_code")) == code)


def _progress(step: dict[str, Any]) -> bool:
    status = text(step.get("status")).lower()
    done = status in ("completed", "success") or bool(text(step.get("output_ref")) or text(step.get("output_hash")))
    clean = step.get("kind") not in ("error", "state") and status != "failed" and not text(step.get("error_code"))
    return clean and done


def _recovery_explanation(first: int, recovery: list[int], tool: str, code: str) -> str:
    if not first:
        return "no failed tool step" + (f" of tool {tool!r}" if tool else "") + (f" with {code}" if code else "")
    if recovery:
        return f"tool step {first} failed; step {recovery[0]} made successful progress"
    return f"tool step {first} failed and no later step made successful progress"


@trace_builtin("tool_failure_recovered", "A failed tool call was followed by successful progress.",
               _check_recovery, RECOVERY_SCHEMA, False)  # fmt: skip
def tool_failure_recovered(inp: ScorerInput) -> ScoreResult:
    """Pass iff some step after the first matching failed tool step made successful progress."""
    ready = prepare("tool_failure_recovered", inp, _check_recovery)
    if isinstance(ready, ScoreResult):
        return ready
    tool = text(inp.config.get("tool")).strip()
    code = text(inp.config.get("error_code")) or text(inp.config.get("errorCode"))
    failed = sorted(s["index"] for s in tool_steps(ready[0]) if _failed_tool(s, tool, code))
    first = failed[0] if failed else 0
    recovery = sorted(s["index"] for s in steps(ready[0]) if s["index"] > first and _progress(s)) if first else []
    extras = {"failed_step_indexes": failed, "first_failed_step": first or None, "tool": tool or None,
              "recovery_step_index": recovery[0] if recovery else None, "error_code": code or None}  # fmt: skip
    explanation = _recovery_explanation(first, recovery, tool, code)
    return verdict("tool_failure_recovered", ready, bool(recovery), ("recovered", "not_recovered"), explanation, extras)


def _check_state(config: dict[str, Any]) -> str | None:
    if not text(config.get("name")):
        return "state_equals requires `name` in config"
    if "expected" not in config:
        return "state_equals requires `expected` in config"
    return check_threshold("state_equals")(config)


def lookup_state(inp: ScorerInput, name: str) -> tuple[str, Any] | None:
    """``(container, value)`` from state, states (else derived from events), then state_snapshots."""
    states = inp.states if isinstance(inp.states, dict) else workflow_states(inp.events)
    for source, container in (("state", inp.state), ("states", states), ("state_snapshots", inp.state_snapshots)):
        if isinstance(container, dict) and name in container:
            return source, container[name]
    return None


@trace_builtin("state_equals", "The named workflow state equals config.expected.", _check_state, STATE_SCHEMA)
def state_equals(inp: ScorerInput) -> ScoreResult:
    """Pass iff the state ``config.name`` equals ``config.expected`` (JSON equality, ``1`` != ``1.0``)."""
    if not isinstance(inp.config, dict):
        return config_error("state_equals config must be a JSON object")
    problem = _check_state(inp.config)
    if problem:
        return config_error(problem)
    name, expected = inp.config["name"], inp.config["expected"]
    limit = float(threshold("state_equals", inp.config))
    found = lookup_state(inp, name)
    if found is None:
        message = f"state {name!r} not found in state, states or state_snapshots"
        return ScoreResult(0.0, False, "artifact_error", message, {"builtin": "state_equals", "name": name})
    source, actual = found
    score = 1.0 if json_equal(actual, expected) else 0.0
    metadata = {"builtin": "state_equals", "threshold": limit, "name": name, "source": source, "actual": actual,
                "expected": expected}  # fmt: skip
    explanation = f"state {name!r} {'equals' if score else 'does not equal'} the expected value"
    return ScoreResult(score, score >= limit, "matched" if score else "not_matched", explanation, metadata)
