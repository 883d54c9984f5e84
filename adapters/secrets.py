"""The secrets this process knows (from its environment), and ``scrub``: redact them from outside text.

Known secrets: ``AGNT5_LLM_API_KEY``, ``AGNT5_API_KEY``, ``AGNT5_WORKERLESS_SECRET`` (the signing secret of AGNT5
workerless deployments) and the password of ``AGNT5_DATABASE_URL``. Read on each
call (cheap), so a key set after start-up is still covered.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

from agnt5_evals.domain.redaction import redact

SECRET_VARIABLES = ("AGNT5_LLM_API_KEY", "AGNT5_API_KEY", "AGNT5_WORKERLESS_SECRET")


def known_secrets() -> list[str]:
    secrets = [os.environ.get(name, "").strip() for name in SECRET_VARIABLES]
    url = os.environ.get("AGNT5_DATABASE_URL", "")
    try:
        password = urlsplit(url).password if url else None
    except ValueError:
        password = None
    if password:
        secrets += [password, unquote(password)]
    return [s for s in secrets if s]


def scrub(value: Any) -> Any:
    """``value`` with every known secret replaced by ``[REDACTED]`` (strings anywhere in a JSON value)."""
    return redact(value, known_secrets())
