"""Redaction: known secrets never reach what we record (events are immutable: a leaked key stays forever).

Pure: the caller passes the secrets (``adapters.secrets`` gathers them from the environment). Every occurrence
of a secret, and of ``Bearer <secret>``, in any string nested in a JSON value (object keys included) becomes
``[REDACTED]``. Secrets shorter than ``MIN_SECRET_CHARS`` are ignored: redacting them would mangle ordinary text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 4


def usable(secrets: Iterable[str]) -> tuple[str, ...]:
    """The secrets worth redacting, longest first (a secret containing another is replaced whole)."""
    return tuple(sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=lambda s: (-len(s), s)))


def redact_text(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(f"Bearer {secret}", f"Bearer {REDACTED}").replace(secret, REDACTED)
    return text


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of ``value`` with every known secret replaced; ``value`` itself when there is nothing to redact."""
    known = usable(secrets)
    return _walk(value, known) if known else value


def _walk(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {_walk(k, secrets): _walk(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_walk(v, secrets) for v in value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _encoded_as(value, secrets)


def _encoded_as(value: Any, secrets: tuple[str, ...]) -> Any:
    """A value of another type that orjson writes as a JSON value (a dataclass as an object, an enum as its value, a
    datetime as a string): what it is written as, redacted, if a secret is in that; else ``value`` itself."""
    try:
        written = orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONDecodeError):
        return value  # orjson cannot write it: it is not recorded as it is (the worker refuses such an output)
    redacted = _walk(written, secrets)
    return value if redacted == written else redacted


def _as_written(secret: str) -> bytes | None:
    """How orjson writes ``secret`` inside a JSON string (each character escaped on its own, whatever is around
    it), or None if it cannot be written (a lone surrogate, as ``os.environ`` makes of bytes that are not UTF-8):
    then no string orjson writes holds it."""
    try:
        return orjson.dumps(secret)[1:-1]
    except TypeError:
        return None


def redact_encoded(value: Any, secrets: tuple[str, ...]) -> tuple[Any, bytes]:
    """``redact(value, secrets)`` (``secrets`` already ``usable``) and its orjson encoding, for a value orjson
    writes: its encoding is searched for each secret as orjson writes it, and ``value`` is kept as it is, without
    walking every string, when none is there. orjson escapes character by character, so a string (or a key, or
    what a dataclass or an enum is written as) holding a secret holds it as written; a secret found elsewhere (in
    a number, across two strings) only makes the walk happen."""
    encoded = orjson.dumps(value)
    if not any(needle is not None and needle in encoded for needle in map(_as_written, secrets)):
        return value, encoded
    redacted = _walk(value, secrets)
    return redacted, orjson.dumps(redacted)
