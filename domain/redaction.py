"""Redaction: known secrets never reach what we record (events are immutable: a leaked key stays forever).

Pure: the caller passes the secrets (``adapters.secrets`` gathers them from the environment). Every occurrence
of a secret, and of ``Bearer <secret>``, in any string nested in a JSON value (object keys included) becomes
``[REDACTED]``. Secrets shorter than ``MIN_SECRET_CHARS`` are ignored: redacting them would mangle ordinary text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 4


def usable(secrets: Iterable[str]) -> tuple[str, ...]:
    """The secrets worth redacting, longest first (a secret containing another is replaced whole)."""
    return tuple(sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True))


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
    return value


_ESCAPED = re.compile(r'["\\\x00-\x1f]')  # what orjson writes escaped in a JSON string: a search cannot see it


def redact_encoded(value: Any, secrets: tuple[str, ...]) -> tuple[Any, bytes]:
    """``redact(value, secrets)`` (``secrets`` already ``usable``) and its orjson encoding, for a JSON value: its
    encoding is searched for each secret first, and ``value`` is kept as it is, without walking every string,
    when none is there. A secret holding a character JSON escapes (a quote, a backslash, a control character)
    cannot be searched for in the encoding: then the value is walked, as ``redact`` does. Otherwise a secret in a
    string (or a key) is in the encoding as it is, since no character of it was escaped, and a secret found
    elsewhere (in a number) only makes the walk happen."""
    encoded = orjson.dumps(value)
    if not any(_ESCAPED.search(secret) or secret.encode() in encoded for secret in secrets):
        return value, encoded
    redacted = _walk(value, secrets)
    return redacted, orjson.dumps(redacted)
