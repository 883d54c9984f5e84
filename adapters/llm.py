"""An OpenAI-compatible chat-completions client (``AGNT5_LLM_BASE_URL``, ``AGNT5_LLM_API_KEY``).

Used by the judge scorers (and prompt targets). Failures become ``JudgeCallError`` with a kind the score keeps:
timeout_error, auth_error or provider_error. Error messages and responses are scrubbed of known secrets (the
client's key and the environment's, see ``adapters.secrets``): a provider echoing the key must not put it in the
log.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agnt5_evals.adapters.secrets import known_secrets
from agnt5_evals.domain.lazy import LazyModule
from agnt5_evals.domain.redaction import redact
from agnt5_evals.domain.scoring.judges import JudgeCallError

if TYPE_CHECKING:
    import httpx
else:
    httpx = LazyModule("httpx")  # imported on first use (domain.lazy)

LLMCall = Callable[[dict[str, Any]], dict[str, Any]]


class ChatClient:
    """POST {base_url}/chat/completions with a bearer key; one client per worker, reused across items."""

    def __init__(self, base_url: str, api_key: str = "", timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(headers=headers, timeout=timeout_s)

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            body: dict[str, Any] = self._scrub(self._call(request))
        except JudgeCallError as exc:
            raise JudgeCallError(exc.kind, self._scrub(str(exc))) from None
        return body

    def _scrub(self, value: Any) -> Any:
        return redact(value, [self.api_key, *known_secrets()])

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.http.post(f"{self.base_url}/chat/completions", json=request)
        except httpx.TimeoutException as exc:
            raise JudgeCallError("timeout_error", f"timed out after {self.http.timeout.read}s: {exc}") from None
        except httpx.HTTPError as exc:
            raise JudgeCallError("provider_error", f"{type(exc).__name__}: {exc}") from None
        if response.status_code in (401, 403):
            raise JudgeCallError("auth_error", f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise JudgeCallError("provider_error", f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError:
            raise JudgeCallError("provider_error", f"not JSON: {response.text[:200]}") from None
        if not isinstance(body, dict):
            raise JudgeCallError("provider_error", f"not a JSON object: {response.text[:200]}")
        return body

    def close(self) -> None:
        self.http.close()


def from_env() -> ChatClient | None:
    """The configured endpoint, or None when ``AGNT5_LLM_BASE_URL`` is unset."""
    base = os.environ.get("AGNT5_LLM_BASE_URL", "").strip()
    if not base:
        return None
    timeout = float(os.environ.get("AGNT5_LLM_TIMEOUT_S", "60"))
    return ChatClient(base, os.environ.get("AGNT5_LLM_API_KEY", ""), timeout)


def replay(evidence: dict[str, Any]) -> LLMCall:
    """An LLM that answers from a score's recorded evidence: re-scoring without the network."""

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        if request != evidence.get("judge_request"):
            raise JudgeCallError("provider_error", "replay: the request differs from the recorded one")
        response = evidence.get("judge_response")
        if not isinstance(response, dict):
            raise JudgeCallError("provider_error", "replay: no recorded response")
        return response

    return answer
