"""Redaction: known secrets never reach what we record (events are immutable: a leaked key stays forever).

Pure: the caller passes the secrets (``adapters.secrets`` gathers them from the environment). Every occurrence
of a secret, and of ``Bearer <secret>``, in any string nested in a JSON value (object keys included) becomes
``[REDACTED]``. Secrets shorter than ``MIN_SECRET_CHARS`` are ignored: redacting them would mangle ordinary text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
