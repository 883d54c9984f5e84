"""Names and descriptions people give entities: a sane length and no control characters.

A name (dataset, experiment, deployment, prompt, scorer, annotation) is stripped, not empty, at most
``MAX_NAME_CHARS`` characters and holds no control character at all. A description is at most
``MAX_DESCRIPTION_CHARS`` and may hold line breaks and tabs, but no other control character: an ANSI escape
stored in the log would drive the terminal of whoever lists it later.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from agnt5_evals.domain.errors import Invalid

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 10_000


def _control(text: str, allowed: str = "") -> str | None:
    return next((c for c in text if unicodedata.category(c) == "Cc" and c not in allowed), None)


def control_character(text: str) -> str | None:
    """The first control character in ``text`` (for text stored as it is, such as item ids), or None."""
    return _control(text)


def check_name(name: Any, field: str = "name") -> str:
    """The stripped name, or ``Invalid`` naming ``field``."""
    if not isinstance(name, str) or not name.strip():
        raise Invalid("must not be empty", field=field)
    text = str(name).strip()
    if len(text) > MAX_NAME_CHARS:
        raise Invalid(f"must be at most {MAX_NAME_CHARS} characters (got {len(text):,})", field=field)
    if (bad := _control(text)) is not None:
        raise Invalid(f"must not contain control characters (found {bad!r})", field=field)
    return text


def check_description(text: Any, field: str = "description") -> str:
    """The description unchanged, or ``Invalid`` naming ``field``."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise Invalid("must be a string", field=field)
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise Invalid(f"must be at most {MAX_DESCRIPTION_CHARS:,} characters (got {len(text):,})", field=field)
    if (bad := _control(text, "\n\t\r")) is not None:
        raise Invalid(f"must not contain control characters other than line breaks and tabs (found {bad!r})",
                      field=field)  # fmt: skip
    return text
