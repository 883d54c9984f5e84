"""Scorer results, inputs and the registry of built-ins."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class ScoreResult:
    """One scorer's verdict: score in [0, 1], passed, and why.

    ``errored`` marks a scorer that could not score (raised, timed out, answered garbage), which is
    kept apart from a score that failed.
    """

    score: float
    passed: bool
    label: str | None = None
    explanation: str | None = None
    metadata: dict[str, Any] | None = None
    errored: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_output(self) -> dict[str, Any]:
        """The result contract of the reference: what the scorer returned."""
        return {
            "score": self.score,
            "passed": self.passed,
            "label": self.label,
            "explanation": self.explanation,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class ScorerInput:
    """What a scorer sees for one run item."""

    output: Any
    expected_output: Any = None
    input: Any = None
    config: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    llm: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # the judge endpoint, injected by the runner
    state: dict[str, Any] | None = None  # request key `state` (state_equals)
    states: dict[str, Any] | None = None  # request key `states`; derived from workflow.state.changed when None
    state_snapshots: dict[str, Any] | None = None  # request key `state_snapshots`


ScorerFn = Callable[[ScorerInput], ScoreResult]
ConfigCheck = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class BuiltinScorer:
    """A built-in scorer: its function, whether it needs config, and how config is checked."""

    name: str
    kind: str
    description: str
    fn: ScorerFn
    requires_config: bool = False
    check_config: ConfigCheck | None = None
    config_schema: dict[str, Any] = field(default_factory=dict)


BUILTINS: dict[str, BuiltinScorer] = {}


def builtin(
    name: str,
    *,
    kind: str,
    description: str,
    requires_config: bool = False,
    check_config: ConfigCheck | None = None,
    config_schema: dict[str, Any] | None = None,
) -> Callable[[ScorerFn], ScorerFn]:
    """Register a pure scoring function under a built-in name."""

    def register(fn: ScorerFn) -> ScorerFn:
        BUILTINS[name] = BuiltinScorer(name, kind, description, fn, requires_config, check_config, config_schema or {})
        return fn

    return register


def to_text(value: Any) -> str:
    """The reference's value-to-string rule: strings as is, null as "", anything else compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:  # orjson writes what serde_json writes (sorted keys here, compact, 1e-7 rather than Python's 1e-07)
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):  # integers beyond 64 bits, non-string keys, NaN/inf objects
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def config_error(message: str, **evidence: Any) -> ScoreResult:
    return ScoreResult(0.0, False, "config_error", message, None, evidence=evidence)
