"""Output scorers: compare an item's output with its expected output or a pattern."""

from __future__ import annotations

import json
import re
from typing import Any

from domain.scoring.base import ScoreResult, ScorerInput, builtin, config_error, to_text


def _check_pattern(name: str) -> Any:
    def check(config: dict[str, Any]) -> str | None:
        pattern = config.get("pattern")
        if not isinstance(pattern, str):
            return f"{name}: config.pattern is required and must be a string"
        if not pattern:
            return f"{name}: config.pattern must be a non-empty string"
        if name == "regex_match":
            try:
                re.compile(pattern)
            except re.error as exc:
                return f"regex_match: config.pattern is not a valid regex: {exc}"
        if "case_sensitive" in config and not isinstance(config["case_sensitive"], bool):
            return f"{name}: config.case_sensitive must be true or false"
        return None

    return check


@builtin(
    "exact_match",
    kind="output",
    description="Output equals expected output (compact JSON with sorted keys for non-strings).",
    config_schema={"case_sensitive": "bool (default true)"},
)
def exact_match(inp: ScorerInput) -> ScoreResult:
    actual, expected = to_text(inp.output), to_text(inp.expected_output)
    if inp.config.get("case_sensitive", True) is False:
        actual, expected = actual.lower(), expected.lower()
    matched = actual == expected
    return ScoreResult(
        1.0 if matched else 0.0,
        matched,
        "match" if matched else "mismatch",
        "output equals expected output" if matched else "output differs from expected output",
        evidence={"output_text": actual, "expected_text": expected},
    )


@builtin(
    "contains",
    kind="output",
    description="Output text contains config.pattern.",
    requires_config=True,
    check_config=_check_pattern("contains"),
    config_schema={"pattern": "non-empty string (required)", "case_sensitive": "bool (default true)"},
)
def contains(inp: ScorerInput) -> ScoreResult:
    pattern = inp.config.get("pattern")
    if not isinstance(pattern, str):
        return config_error(f"Invalid contains config: pattern must be a string, got {pattern!r}")
    if not pattern:
        return config_error("contains requires a non-empty `pattern`")
    text = to_text(inp.output)
    haystack, needle = text, pattern
    if inp.config.get("case_sensitive", True) is False:
        haystack, needle = text.lower(), pattern.lower()
    found = needle in haystack
    return ScoreResult(
        1.0 if found else 0.0,
        found,
        "found" if found else "not_found",
        f"output {'contains' if found else 'does not contain'} {pattern!r}",
        evidence={"output_text": text, "pattern": pattern},
    )


@builtin(
    "regex_match",
    kind="output",
    description="Unanchored regex search of config.pattern in the output text.",
    requires_config=True,
    check_config=_check_pattern("regex_match"),
    config_schema={"pattern": "regex (required)"},
)
def regex_match(inp: ScorerInput) -> ScoreResult:
    pattern = inp.config.get("pattern")
    if not isinstance(pattern, str):
        return ScoreResult(0.0, False, "error", f"Invalid regex_match config: pattern is {pattern!r}")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return ScoreResult(0.0, False, "error", f"Invalid regex: {exc}")
    text = to_text(inp.output)
    found = compiled.search(text)
    return ScoreResult(
        1.0 if found else 0.0,
        found is not None,
        "match" if found else "no_match",
        f"pattern {pattern!r} {'matched ' + repr(found.group(0)) if found else 'did not match'}",
        evidence={"output_text": text, "pattern": pattern},
    )


@builtin("json_valid", kind="output", description="A string output parses as JSON; other values are valid.")
def json_valid(inp: ScorerInput) -> ScoreResult:
    if not isinstance(inp.output, str):
        return ScoreResult(1.0, True, "valid", "output is a JSON value", evidence={"output_type": "json"})
    try:
        json.loads(inp.output)
    except ValueError as exc:
        return ScoreResult(
            0.0, False, "invalid", f"output is not valid JSON: {exc}", evidence={"output_text": inp.output}
        )
    return ScoreResult(1.0, True, "valid", "output parses as JSON", evidence={"output_text": inp.output})
