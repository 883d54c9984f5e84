"""The dialects of the reference's Rust core that Python does not share: its regex syntax and its strict JSON."""

from __future__ import annotations

import json
import math
import re
from typing import Any

SERDE_MAX_DEPTH = 127  # serde_json refuses the 128th nested array/object

_DIALECT = (
    ("(?<=", "look-behind", True),
    ("(?<!", "negative look-behind", True),
    ("(?=", "look-ahead", True),
    ("(?!", "negative look-ahead", True),
    ("(?P=", "named back-reference", True),
    ("(?(", "conditional group reference", True),
    ("(?>", "atomic group", False),
)
_REPEAT = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unsupported(what: str, i: int, backtracking: bool = True) -> str:
    tail = "look-around/back-references are not supported" if backtracking else "not supported"
    return f"{what} at position {i}: {tail} (Rust regex dialect)"


def _construct(pattern: str, i: int) -> str | None:
    """The unsupported construct starting at an unescaped ``(`` outside a class, if any."""
    for prefix, what, backtracking in _DIALECT:
        if pattern.startswith(prefix, i):
            return _unsupported(f"{what} {prefix!r}", i, backtracking)
    return None


def rust_dialect_problem(pattern: str) -> str | None:
    """Why the Rust ``regex`` crate would reject a pattern Python's ``re`` accepts, or None.

    Rejected: look-around, back-references (``\\1``..``\\9``, ``\\0``, ``(?P=name)``, conditionals),
    atomic groups and possessive quantifiers.
    """
    i, in_class, after_repeat = 0, False, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if pattern[i + 1 : i + 2] in tuple("0123456789"):
                return _unsupported(f"back-reference {pattern[i : i + 2]!r}", i)
            i, after_repeat = i + 2, False
            continue
        if in_class:
            in_class, i = char != "]", i + 1
            continue
        if char == "[":
            i += 2 if pattern.startswith("[^", i) else 1
            i += 1 if pattern[i : i + 1] == "]" else 0
            in_class, after_repeat = True, False
            continue
        if char == "(" and (problem := _construct(pattern, i)):
            return problem
        repeat = _REPEAT.match(pattern, i) if char == "{" else None
        if char == "+" and after_repeat:
            return _unsupported("possessive quantifier", i, backtracking=False)
        after_repeat = char in "*+?" or repeat is not None
        i = repeat.end() if repeat else i + 1
    return None


def compile_regex(pattern: str) -> re.Pattern[str] | str:
    """Compile a pattern of the Rust dialect, or say why it is invalid ("Invalid regex: ...")."""
    problem = rust_dialect_problem(pattern)
    if problem:
        return f"Invalid regex: {problem}"
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        return f"Invalid regex: {exc}"


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise ValueError(f"number out of range: {token}")
    return value


def _bounded_int(token: str) -> int:
    value = int(token)
    if abs(value) >= 2**1024:  # beyond f64, which serde_json falls back to for big integers
        raise ValueError(f"number out of range: {token}")
    return value


def _serde_problem(value: Any) -> str | None:
    """What serde_json would refuse in a value Python parsed: nesting deeper than 127, lone surrogates."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        texts = [item] if isinstance(item, str) else list(item) if isinstance(item, dict) else []
        if any(_SURROGATE.search(text) for text in texts):
            return "lone surrogate in hex escape"
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            if depth > SERDE_MAX_DEPTH:
                return "recursion limit exceeded"
            pending.extend((child, depth + 1) for child in children)
    return None


def parse_json_text(text: str) -> tuple[Any, str | None]:
    """Parse JSON as serde_json does: no NaN/Infinity, no out-of-range numbers or lone surrogates, <= 127 levels.

    Returns ``(value, None)`` or ``(None, reason)``; never raises.
    """
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError:
        return None, "recursion limit exceeded"
    except ValueError as exc:
        return None, str(exc)
    problem = _serde_problem(value)
    return (None, problem) if problem else (value, None)
