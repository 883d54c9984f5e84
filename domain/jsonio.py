"""The one strict JSON reader for user-supplied JSON: uploads (JSONL, CSV cells), JSON options, REST bodies.

JSON that would be silently changed on its way into the log is refused instead, naming the field at fault:

- a duplicate key in an object (the last one would win): refused, naming the key;
- ``NaN``, ``Infinity``, ``-Infinity`` and numbers too large for a double (they would become null): refused;
- integers outside 64 bits (``-2**63`` to ``2**64 - 1``): refused, since the log's encoder (orjson) cannot keep
  them and would turn them into floats;
- lone surrogates (``"\\ud800"``): refused, since they are not Unicode text and cannot be encoded as UTF-8.

``field`` is where the text came from (``items``, ``metadata``, ``body``); the path inside it is appended
(``items[3].metadata.n``). ``line`` (a JSONL line or CSV row) is named in the message.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from agnt5_evals.domain.errors import Invalid

INT_MIN = -(2**63)
INT_MAX = 2**64 - 1


class MalformedJSON(Invalid):
    """The text is not JSON at all (as opposed to JSON this reader refuses to change)."""


class _Refused:
    """Stands in for a value the parser met but must not keep; the walk reports it with its path."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _int(text: str) -> int | _Refused:
    value = int(text)
    if INT_MIN <= value <= INT_MAX:
        return value
    shown = text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"
    return _Refused(f"the integer {shown} is outside 64 bits (-2**63 to 2**64-1); write it as a string")


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"the number {text[:24]} is too large (it would be infinite)")


def _constant(text: str) -> _Refused:
    return _Refused(f"{text} is not JSON (use null or a string)")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Refused:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    seen: set[str] = set()
    duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
    return _Refused(f"the key {duplicate!r} appears twice in one object")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_int=_int, parse_float=_float, parse_constant=_constant)


def _path(field: str, key: str | int) -> str:
    return f"{field}[{key}]" if isinstance(key, int) else f"{field}.{key}" if field else key


def _bad_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check(value: Any, field: str, line: int | None = None) -> Any:
    """``value`` if it holds nothing the parser refused and no lone surrogate; else ``Invalid`` at its path."""
    where = f"line {line}: " if line is not None else ""
    stack: list[tuple[Any, str]] = [(value, field)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Refused):
            raise Invalid(where + node.reason, field=path or "body")
        if isinstance(node, str):
            if _bad_text(node):
                raise Invalid(where + "a string holds a lone surrogate (not Unicode text)", field=path or "body")
        elif isinstance(node, dict):
            for key, item in node.items():
                if _bad_text(key):
                    raise Invalid(where + "a key holds a lone surrogate (not Unicode text)", field=path or "body")
                stack.append((item, _path(path, key)))
        elif isinstance(node, list):
            stack.extend((item, _path(path, n)) for n, item in enumerate(node))
    return value


def loads(text: str | bytes, field: str, line: int | None = None) -> Any:
    """Parse ``text`` strictly (see the module): the value, or ``Invalid`` naming ``field`` (and the path in it)."""
    where = f"line {line}: " if line is not None else ""
    try:
        source = text.decode("utf-8") if isinstance(text, bytes) else text
    except UnicodeDecodeError as exc:
        raise MalformedJSON(f"{where}not UTF-8 (byte {exc.start})", field=field or "body") from None
    try:
        value, end = _DECODER.raw_decode(source, _skip(source, 0))
        if _skip(source, end) != len(source):
            raise json.JSONDecodeError("extra data after the JSON value", source, _skip(source, end))
    except json.JSONDecodeError as exc:
        raise MalformedJSON(f"{where}malformed JSON: {_why(source, exc)}", field=field or "body") from None
    except RecursionError:
        raise MalformedJSON(f"{where}malformed JSON: nested too deeply", field=field or "body") from None
    return check(value, field, line)


def jsonl_lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of JSON Lines text with their 1-based numbers.

    Lines end at ``\n`` (a ``\r`` before it is dropped) and nowhere else: ``str.splitlines`` would also cut at
    U+0085, U+2028 and U+2029, which JSON keeps raw inside strings, and refuse a valid line as malformed.
    """
    lines = text.split("\n")
    return [(number, line.removesuffix("\r")) for number, line in enumerate(lines, start=1) if line.strip()]


def _why(source: str, exc: json.JSONDecodeError) -> str:
    """orjson's wording of the syntax error (what the messages said before this reader), else the parser's."""
    try:
        orjson.loads(source)
    except orjson.JSONDecodeError as other:
        return str(other)
    return f"{exc.msg}: line {exc.lineno} column {exc.colno} (char {exc.pos})"


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\n\r":
        at += 1
    return at


INDENT = orjson.OPT_INDENT_2


def array_item(element: bytes, first: bool, depth: int = 1) -> bytes:
    """An element (``orjson.OPT_INDENT_2``) of an array ``depth`` levels deep, with what precedes it (the array's
    opening or a comma): element by element, the bytes ``OPT_INDENT_2`` writes for the whole array."""
    pad = b"\n" + b"  " * depth
    return (b"[" if first else b",") + pad + element.replace(b"\n", pad)


def array_end(empty: bool, depth: int = 1) -> bytes:
    """The end of an array written by ``array_item`` (``empty``: no element was)."""
    return b"[]" if empty else b"\n" + b"  " * (depth - 1) + b"]"
