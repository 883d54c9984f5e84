"""The secrets this process knows (from its environment), and ``scrub``: redact them from outside text.

Known secrets: ``AGNT5_LLM_API_KEY``, ``AGNT5_API_KEY``, ``AGNT5_WORKERLESS_SECRET`` (the signing secret of AGNT5
workerless deployments) and the password of ``AGNT5_DATABASE_URL``. The variables are read on each call, so a key
set after start-up is still covered; what is made of them (the URL parsed) is kept per set of values. A worker
reads them once per save of its results rather than for each item it records (``scrub_encoded``'s ``secrets``):
reading four variables took about a tenth of an item thread's time.
"""

from __future__ import annotations

import functools
import os
from typing import Any
from urllib.parse import unquote, urlsplit

from agnt5_evals.domain.redaction import redact, redact_encoded, usable

SECRET_VARIABLES = ("AGNT5_LLM_API_KEY", "AGNT5_API_KEY", "AGNT5_WORKERLESS_SECRET")


def known_secrets() -> list[str]:
    return list(usable_secrets())


def usable_secrets() -> tuple[str, ...]:
    """The known secrets worth redacting (``redaction.usable``), from the environment as it is now."""
    return _secrets(tuple(os.environ.get(name, "") for name in SECRET_VARIABLES),
                    os.environ.get("AGNT5_DATABASE_URL", ""))  # fmt: skip


@functools.lru_cache(maxsize=8)
def _secrets(values: tuple[str, ...], url: str) -> tuple[str, ...]:
    secrets = [value.strip() for value in values]
    try:
        password = urlsplit(url).password if url else None
    except ValueError:
        password = None
    if password:
        secrets += [password, unquote(password)]
    return usable(s for s in secrets if s)


def scrub(value: Any) -> Any:
    """``value`` with every known secret replaced by ``[REDACTED]`` (strings anywhere in a JSON value)."""
    return redact(value, known_secrets())


def scrub_encoded(value: Any, secrets: tuple[str, ...] | None = None) -> tuple[Any, bytes]:
    """``scrub`` of a JSON value, and its orjson encoding: the value itself when no known secret is in its encoding
    (``redaction.redact_encoded``: a worker's every record, with an API key set, is searched, not walked).
    ``secrets``: ``usable_secrets()`` as read a moment ago (default: read now)."""
    return redact_encoded(value, usable_secrets() if secrets is None else secrets)
