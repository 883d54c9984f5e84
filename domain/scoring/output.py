"""Output scorers: compare an item's output with its expected output, a pattern, a schema or a range."""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

from rapidfuzz.distance import Levenshtein

from agnt5_evals.domain.scoring.base import ScoreResult, ScorerInput, builtin, config_error, to_text
from agnt5_evals.domain.scoring.dialects import compile_regex, parse_json_text

MESSAGE_CAP = 1000  # characters kept of one json_schema error message


def _check_pattern(name: str) -> Any:
    def check(config: dict[str, Any]) -> str | None:
        pattern = config.get("pattern")
        if not isinstance(pattern, str):
            return f"{name}: config.pattern is required and must be a string"
        if not pattern:
            return f"{name}: config.pattern must be a non-empty string"
        if name == "regex_match":
            compiled = compile_regex(pattern)
            if isinstance(compiled, str):
                return f"regex_match: config.pattern is not a valid regex: {compiled.removeprefix('Invalid regex: ')}"
        if "case_sensitive" in config and not isinstance(config["case_sensitive"], bool):
            return f"{name}: config.case_sensitive must be true or false"
        return None

    return check


def _compact(value: Any, cap: int = 200) -> str:
    """Compact JSON of a value for an explanation, strings quoted, cut at ``cap`` characters."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= cap else text[: cap - 1] + "…"


@builtin(
    "exact_match",
    kind="output",
    description="Output equals expected output (compact JSON with sorted keys for non-strings).",
    config_schema={"case_sensitive": "bool (default true)"},
)
def exact_match(inp: ScorerInput) -> ScoreResult:
    """1.0 ``match`` when ``to_text(output) == to_text(expected)``, else 0.0 ``mismatch``."""
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
    """1.0 ``found`` when ``to_text(output)`` contains ``config.pattern``, else 0.0 ``not_found``."""
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
    description="Unanchored regex search (Rust regex dialect: no look-around/back-references) in the output text.",
    requires_config=True,
    check_config=_check_pattern("regex_match"),
    config_schema={"pattern": "regex (required; Rust regex dialect, inline flags like (?i))"},
)
def regex_match(inp: ScorerInput) -> ScoreResult:
    """1.0 ``match`` when ``config.pattern`` is found in ``to_text(output)``; a bad pattern is ``error``."""
    pattern = inp.config.get("pattern")
    if not isinstance(pattern, str):
        return ScoreResult(0.0, False, "error", f"Invalid regex_match config: pattern is {pattern!r}")
    compiled = compile_regex(pattern)
    if isinstance(compiled, str):
        return ScoreResult(0.0, False, "error", compiled, evidence={"pattern": pattern})
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
    """Non-strings are ``valid``; a string is ``valid`` iff it parses as (serde-strict) JSON."""
    if not isinstance(inp.output, str):
        return ScoreResult(1.0, True, "valid", "output is a JSON value", evidence={"output_type": "json"})
    _, problem = parse_json_text(inp.output)
    if problem:
        return ScoreResult(
            0.0, False, "invalid", f"output is not valid JSON: {problem}", evidence={"output_text": inp.output}
        )
    return ScoreResult(1.0, True, "valid", "output parses as JSON", evidence={"output_text": inp.output})


@functools.lru_cache(maxsize=64)
def _compiled_schema(schema_text: str) -> Any:
    """A validator for a schema (given as canonical JSON text), or the reason it does not compile."""
    from jsonschema import Draft202012Validator, SchemaError, validators  # imported on first use: a heavy module

    schema = json.loads(schema_text)
    try:
        cls = Draft202012Validator
        if isinstance(schema, dict) and "$schema" in schema:
            dialect = schema["$schema"]
            found = validators.validator_for(schema, default=None) if isinstance(dialect, str) else None
            if found is None:
                return f"unknown $schema {dialect!r}"
            cls = found
        cls.check_schema(schema)
        return cls(schema)
    except SchemaError as exc:
        return f"{exc.message} at {_pointer(exc.absolute_path)!r}"
    except Exception as exc:  # a schema too deep or otherwise uncompilable must not crash the scorer
        return f"{type(exc).__name__}: {exc}"


def _schema_validator(schema: Any) -> Any:
    if not isinstance(schema, dict | bool):
        return "json_schema: config.schema is required and must be a JSON Schema (object or boolean)"
    try:
        text = json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return f"invalid schema: {exc}"
    compiled = _compiled_schema(text)
    return f"invalid schema: {compiled}" if isinstance(compiled, str) else compiled


def _check_schema(config: dict[str, Any]) -> str | None:
    compiled = _schema_validator(config.get("schema"))
    if isinstance(compiled, str):
        return compiled if compiled.startswith("json_schema:") else f"json_schema: config.schema: {compiled}"
    return None


def _pointer(path: Any) -> str:
    """RFC 6901 JSON pointer of a path; the root is the empty string."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _error_line(error: Any) -> tuple[tuple[tuple[int, Any], ...], str]:
    message = error.message if len(error.message) <= MESSAGE_CAP else error.message[: MESSAGE_CAP - 1] + "…"
    key = tuple((0, part) if isinstance(part, int) else (1, str(part)) for part in error.absolute_path)
    return key, f"{_pointer(error.absolute_path)}: {message}"


@builtin(
    "json_schema",
    kind="output",
    description="Output (a string is parsed first) validates against config.schema (Draft 2020-12 by default).",
    requires_config=True,
    check_config=_check_schema,
    config_schema={"schema": "JSON Schema (required; Draft 2020-12 unless $schema says otherwise)"},
)
def json_schema(inp: ScorerInput) -> ScoreResult:
    """1.0 ``valid`` / 0.0 ``invalid`` with every error as ``"<instance pointer>: <message>"``."""
    validator = _schema_validator(inp.config.get("schema"))
    if isinstance(validator, str):
        return config_error(validator)
    instance = inp.output
    if isinstance(instance, str):
        instance, problem = parse_json_text(instance)
        if problem:
            return ScoreResult(0.0, False, "parse_error", f"output is not valid JSON: {problem}")
    try:
        lines = sorted(_error_line(error) for error in validator.iter_errors(instance))
    except Exception as exc:  # unresolvable $ref, $ref cycles, a bad pattern: the schema is at fault
        return config_error(f"invalid schema: {type(exc).__name__}: {exc}")
    errors = [line for _, line in lines]
    if not errors:
        return ScoreResult(1.0, True, "valid", "output matches the schema", {"errors": []})
    return ScoreResult(0.0, False, "invalid", errors[0], {"errors": errors})


# Unicode White_Space: what Rust's str::trim strips (Python's str.strip also strips \x1c-\x1f).
_RUST_WHITESPACE = "".join(
    map(chr, [*range(9, 14), 32, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
)
_RUST_FLOAT = re.compile(r"[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)", re.IGNORECASE)


def _as_number(value: Any) -> float | None:
    """A JSON number, or a string Rust's ``str::trim().parse::<f64>()`` accepts (inf/NaN included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        text = value.strip(_RUST_WHITESPACE)
        return float(text) if _RUST_FLOAT.fullmatch(text) else None
    return None


def _range_config(config: dict[str, Any]) -> tuple[float | None, float | None, bool] | str:
    bounds: list[float | None] = []
    for key in ("min", "max"):
        value = config.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"numeric_range: config.{key} must be a number"
        bounds.append(None if value is None else float(value))
    inclusive = config.get("inclusive", True)
    if not isinstance(inclusive, bool):
        return "numeric_range: config.inclusive must be true or false"
    if bounds[0] is None and bounds[1] is None:
        return "numeric_range: config.min or config.max is required"
    return bounds[0], bounds[1], inclusive


def _check_range(config: dict[str, Any]) -> str | None:
    parsed = _range_config(config)
    if isinstance(parsed, str):
        return parsed
    low, high, _ = parsed
    if any(bound is not None and not math.isfinite(bound) for bound in (low, high)):
        return "numeric_range: config.min and config.max must be finite numbers"
    if low is not None and high is not None and low > high:
        return "numeric_range: config.min must not exceed config.max"
    return None


def _show(number: float | None) -> str:
    """A number as Rust's ``Display`` prints it: ``5`` for 5.0, ``inf``, ``NaN``; ``none`` when absent."""
    if number is None:
        return "none"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return str(int(number)) if number.is_integer() and abs(number) < 1e16 else repr(number)


@builtin(
    "numeric_range",
    kind="output",
    description="Output number (or numeric string) lies within config.min / config.max.",
    requires_config=True,
    check_config=_check_range,
    config_schema={"min": "number", "max": "number (min or max required)", "inclusive": "bool (default true)"},
)
def numeric_range(inp: ScorerInput) -> ScoreResult:
    """1.0 ``in_range`` / 0.0 ``out_of_range``; non-numeric output is ``parse_error`` (NaN is out of range)."""
    parsed = _range_config(inp.config)
    if isinstance(parsed, str):
        return config_error(parsed)
    low, high, inclusive = parsed
    value = _as_number(inp.output)
    if value is None:
        return ScoreResult(0.0, False, "parse_error", f"output is not numeric: {_compact(inp.output)}")
    if inclusive:
        inside = (low is None or value >= low) and (high is None or value <= high)
    else:
        inside = (low is None or value > low) and (high is None or value < high)
    explanation = (
        f"value {_show(value)} is {'in' if inside else 'out of'} range "
        f"(min: {_show(low)}, max: {_show(high)}, inclusive: {str(inclusive).lower()})"
    )
    label = "in_range" if inside else "out_of_range"
    return ScoreResult(1.0 if inside else 0.0, inside, label, explanation, evidence={"value": _show(value)})


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _check_threshold(config: dict[str, Any]) -> str | None:
    value = config.get("threshold", 0.0)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return "levenshtein: config.threshold must be a number between 0 and 1"
    return None


@builtin(
    "levenshtein",
    kind="output",
    description="Similarity 1 - distance / larger UTF-8 byte length of output and expected text.",
    check_config=_check_threshold,
    config_schema={"threshold": "number in [0, 1] (default 0.0: always passes)"},
)
def levenshtein(inp: ScorerInput) -> ScoreResult:
    """Score = similarity; passed = similarity >= threshold; no label (the Rust core's semantics)."""
    threshold = inp.config.get("threshold", 0.0)
    if threshold is None:
        threshold = 0.0
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        return config_error("levenshtein: config.threshold must be a number between 0 and 1")
    actual, expected = to_text(inp.output), to_text(inp.expected_output)
    distance = Levenshtein.distance(actual, expected)
    longest = max(_utf8_len(actual), _utf8_len(expected))
    similarity = 1.0 if longest == 0 else 1.0 - distance / longest
    return ScoreResult(
        similarity,
        similarity >= threshold,
        None,
        f"Similarity: {similarity * 100:.2f}%, Distance: {distance}",
        evidence={"distance": distance, "max_len": longest},
    )
