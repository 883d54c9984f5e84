"""HTTP targets: the components of a deployment served over HTTP (``agnt5 worker serve`` or any server).

The protocol, one request per attempt:

* Discovery, when the deployment is created: ``GET {url}/components`` answers ``[{"name", "type"}, ...]``.
* A call: ``POST {url}`` with ``{"component_name", "component_type", "input", "run_id"}`` (``run_id`` is
  optional: the server records the component's events under it, so they correlate with the run item's trace).

How the answer maps to the run item:

* 200 ``{"output": ..., "events": [...]}``: success; the events (raw trace events) join the item's trace.
* 422 ``{"error": "Type: message", "events": [...]}``: the component raised; a final error reading
  ``Type: message`` (as for a Python target), with its events kept.
* 429, 5xx (503 above all), connection errors and timeouts: ``TransientError``, retried by the executor.
* Any other status (other 4xx, 3xx): a final error.
* A body that is not JSON, a 200 whose body has no ``output``, or ``events`` that is not a list of objects:
  a final error naming the problem.

Bodies and error texts are scrubbed of known secrets (``adapters.secrets``) before anything is kept. An error never
quotes an answer that is not the protocol's (a non-JSON body, a page of another service): only its status and a
neutral reason, so a URL cannot be used to read what some other address serves.

``AGNT5_TARGET_HOSTS`` (comma-separated host names, ``*.example.org`` for a domain's hosts), when set, is the list
of hosts an HTTP deployment's URL may name. Redirects are never followed.

The AGNT5 SDK's workerless protocol (``agnt5.serverless``, docs/research/agnt5-sdk-0.14.5.md §5) is spoken instead
when the URL serves ``GET {url}/.well-known/agnt5`` with ``protocol_version`` ``workerless.v1``:

* Discovery reads the manifest's ``components``.
* A call is ``POST {url}/agnt5/invoke`` with ``{"protocol_version", "component_type", "component_name", "input",
  "run_id", "attempt", "metadata"}``, signed with the HMAC headers (``x-agnt5-signature-version``,
  ``x-agnt5-signature``, ``x-agnt5-timestamp``, ``x-agnt5-attempt-id``) when the worker's environment holds a
  signing secret (``AGNT5_WORKERLESS_SECRET``: a reference, never recorded; scrubbed like other secrets).
* ``{"status": "completed", "output", "events"?}``: success, the events joining the trace. ``{"status": "failed",
  "error": {"code", "message", "retryable"?}}``: retried (``TransientError``) only when ``retryable`` is true,
  otherwise a final error (a handler's ``Type: message`` reads as the remote exception). A suspended answer or a
  large output by reference is a final error: a run item is one call.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

import orjson

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.secrets import scrub
from agnt5_evals.adapters.targets import FACTORIES, Target
from agnt5_evals.domain.application import COMPONENT_TYPES
from agnt5_evals.domain.errors import Forbidden, Invalid
from agnt5_evals.domain.lazy import LazyModule
from agnt5_evals.domain.model import Deployment
from agnt5_evals.sdk import Context, TransientError

if TYPE_CHECKING:
    import httpx
else:
    httpx = LazyModule("httpx")  # imported on first use (domain.lazy)

DISCOVERY_TIMEOUT_S = 10.0
DEFAULT_TIMEOUT_S = 300.0
COMPONENT_RAISED = 422
WORKERLESS = "workerless.v1"
MANIFEST_PATH = "/.well-known/agnt5"
INVOKE_PATH = "/agnt5/invoke"
SIGNATURE_VERSION = "workerless-hmac-sha256.v1"
SECRET_VARIABLE = "AGNT5_WORKERLESS_SECRET"
TARGET_HOSTS_VARIABLE = "AGNT5_TARGET_HOSTS"


class HTTPTargetError(Exception):
    """A final (not retried) failure of an HTTP target: a refused request or a malformed answer."""


class RemoteComponentError(Exception):
    """The remote component raised; subclasses carry the remote exception's type name (``ValueError``)."""


@functools.cache
def _remote_error_type(name: str) -> type[RemoteComponentError]:
    return type(name, (RemoteComponentError,), {"__module__": __name__})


def remote_error(text: str) -> RemoteComponentError:
    """An exception that formats as the remote ``Type: message``, so the item's error reads as it would locally."""
    name, sep, message = text.partition(":")
    if sep and name.isidentifier():
        return _remote_error_type(name)(message.strip())
    return _remote_error_type("ComponentError")(text)


def check_url(url: str, field: str = "url") -> str:
    """An absolute http(s) URL, without its trailing slash, naming a host of ``AGNT5_TARGET_HOSTS`` when set."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise Invalid(f"{url[:200]!r} is not a URL ({exc})", field=field) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Invalid(f"{url[:200]!r} is not an http:// or https:// URL", field=field)
    allowed = target_hosts()
    if allowed is not None and not host_allowed(parsed.host, allowed):
        raise Forbidden(f"the host {parsed.host!r} is not in AGNT5_TARGET_HOSTS", field=field)
    return url.strip().rstrip("/")


def target_hosts() -> tuple[str, ...] | None:
    """The hosts HTTP deployments may name (``AGNT5_TARGET_HOSTS``), or None: any host."""
    raw = os.environ.get(TARGET_HOSTS_VARIABLE, "")
    names = tuple(name.strip().lower().rstrip(".") for name in raw.split(",") if name.strip())
    return names or None


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``host`` is one of ``allowed``: a name exactly, or under a ``*.domain`` entry."""
    host = host.lower().rstrip(".")
    return any(host == name or (name.startswith("*.") and host.endswith(name[1:])) for name in allowed)


def _component_list(body: Any) -> list[dict[str, str]]:
    if not isinstance(body, list):
        raise ValueError("the answer is not a JSON array")
    components: list[dict[str, str]] = []
    for entry in body:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ValueError(f"entry {len(components)} is not an object with a name")
        if entry.get("type") not in COMPONENT_TYPES:  # named without quoting it: the answer may be any service's
            raise ValueError(f"entry {len(components)} has no type of {', '.join(COMPONENT_TYPES)}")
        components.append({"name": entry["name"], "type": entry["type"]})
    return components


def _build(value: Any) -> str:
    """A reported build or version, kept as text (at most 200 characters)."""
    if not isinstance(value, str | int | float) or isinstance(value, bool) or len(str(value)) > 200:
        raise ValueError("its build or version is not a string of at most 200 characters")
    return str(value)


def manifest(get: Any, url: str, timeout_s: float = DISCOVERY_TIMEOUT_S) -> dict[str, Any] | None:
    """The AGNT5 workerless manifest the URL serves (``GET {url}/.well-known/agnt5``), or None: not workerless."""
    try:
        response = get(f"{url}{MANIFEST_PATH}", timeout=timeout_s)
        body = orjson.loads(response.content) if response.status_code == 200 else None
    except (httpx.HTTPError, orjson.JSONDecodeError):
        return None
    return body if isinstance(body, dict) and body.get("protocol_version") == WORKERLESS else None


def discover_http(url: str, timeout_s: float = DISCOVERY_TIMEOUT_S) -> list[dict[str, str]]:
    """List the components an HTTP deployment serves (``GET {url}/components``); errors name the field ``url``."""
    return discover_http_build(url, timeout_s)[0]


def discover_http_build(url: str, timeout_s: float = DISCOVERY_TIMEOUT_S) -> tuple[list[dict[str, str]], str]:
    """The components an HTTP deployment serves and the build it reports ("" when none): an AGNT5 workerless app's
    manifest (its components, its ``service_version``), else ``GET {url}/components``, which answers a list (older
    workers) or ``{"components": [...], "build" or "version": "..."}``."""
    served = manifest(httpx.get, url, timeout_s)
    if served is not None:
        try:
            return _component_list(served.get("components")), _build(served.get("service_version") or "")
        except ValueError as exc:
            raise Invalid(f"the AGNT5 manifest of {url} does not list components: {exc}", field="url") from None
    where = f"{url}/components"
    try:
        response = httpx.get(where, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise Invalid(f"cannot reach {where}: {type(exc).__name__}: {exc}", field="url") from None
    if response.status_code != 200:
        raise Invalid(f"GET {where} answered HTTP {response.status_code} (not a list of components)", field="url")
    try:
        body, build = orjson.loads(response.content), ""
        if isinstance(body, dict):
            build = _build(body.get("build") or body.get("version") or "")
            body = body.get("components")
        return _component_list(body), build
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise Invalid(f"GET {where} did not answer a list of {{name, type}} components: {exc}", field="url") from None


def _events(body: Any) -> list[dict[str, Any]] | None:
    """The ``events`` of an answer: a list of objects, [] when absent, None when malformed."""
    events = body.get("events", []) if isinstance(body, dict) else []
    if events is None:
        return []
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return None
    return events


def _parse(response: httpx.Response) -> tuple[bool, Any]:
    """Whether the body is JSON, and its value (None when it is not)."""
    try:
        return True, scrub(orjson.loads(response.content))
    except orjson.JSONDecodeError:
        return False, None


def _detail(response: httpx.Response, body: Any) -> str:
    """The error of an answer: the protocol's ``error``, a component's raised text (422), else the status's reason
    (never another answer's body: it may be any service's page)."""
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])[:300]
    if response.status_code == COMPONENT_RAISED and response.text.strip():
        return str(scrub(response.text[:300]))
    return response.reason_phrase or "no reason given"


def _is_transient(status: int) -> bool:
    return status == 429 or status >= 500


class HttpTarget:
    """Calls one component of an HTTP deployment; one client per adapter, shared by every item and thread."""

    def __init__(self, url: str, component_name: str, component_type: str, timeout_s: float | None) -> None:
        self.url = url
        self.component_name = component_name
        self.component_type = component_type
        self.client = httpx.Client(timeout=timeout_s, limits=httpx.Limits(max_connections=None))

        self.workerless: bool | None = None  # found at the first call: whether the URL speaks the SDK's protocol

    def __call__(self, ctx: Context, payload: Any) -> Any:
        if self.workerless is None:
            self.workerless = manifest(self.client.get, self.url) is not None
        if self.workerless:
            return self._invoke_workerless(ctx, payload)
        request = {"component_name": self.component_name, "component_type": self.component_type,
                   "input": payload, "run_id": ctx.run_id}  # fmt: skip
        try:
            response = self.client.post(self.url, content=orjson.dumps(request, default=str),
                                        headers={"content-type": "application/json"})  # fmt: skip
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise TransientError(scrub(f"{type(exc).__name__}: {str(exc) or 'no answer'} ({self.url})")) from exc
        return self._answer(ctx, response)

    def _answer(self, ctx: Context, response: httpx.Response) -> Any:
        status = response.status_code
        is_json, body = _parse(response)
        if status == 200:
            if not is_json:
                raise HTTPTargetError(f"HTTP 200 from {self.url}: the body is not JSON")
            return self._output(ctx, body, _events(body))
        ctx.events.extend(_events(body) or [])  # what the component recorded before failing stays in the trace
        if status == COMPONENT_RAISED:
            raise remote_error(_detail(response, body))
        if _is_transient(status):
            raise TransientError(f"HTTP {status} from {self.url}: {_detail(response, body)}")
        raise HTTPTargetError(f"HTTP {status} from {self.url}: {_detail(response, body)}")

    def _output(self, ctx: Context, body: Any, events: list[dict[str, Any]] | None) -> Any:
        if not isinstance(body, dict) or "output" not in body:
            raise HTTPTargetError(f"HTTP 200 from {self.url}: the body has no 'output' field")
        if events is None:
            raise HTTPTargetError(f"HTTP 200 from {self.url}: 'events' must be a list of objects")
        ctx.events.extend(events)
        return body["output"]

    def _invoke_workerless(self, ctx: Context, payload: Any) -> Any:
        request = {"protocol_version": WORKERLESS, "component_type": self.component_type,
                   "component_name": self.component_name, "input": payload, "run_id": ctx.run_id, "attempt": 0,
                   "metadata": {}}  # fmt: skip
        body = orjson.dumps(request, default=str)
        try:
            response = self.client.post(self.url + INVOKE_PATH, content=body, headers=signed_headers(body))
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise TransientError(scrub(f"{type(exc).__name__}: {str(exc) or 'no answer'} ({self.url})")) from exc
        is_json, answer = _parse(response)
        if not is_json or not isinstance(answer, dict):
            raise HTTPTargetError(f"HTTP {response.status_code} from {self.url}{INVOKE_PATH}: the body is not a JSON "
                                  "object")  # fmt: skip
        ctx.events.extend(_events(answer) or [])
        status = answer.get("status")
        if response.status_code == 200 and status == "completed" and "output" in answer:
            return answer["output"]
        raise self._workerless_error(response.status_code, answer)

    def _workerless_error(self, status: int, answer: dict[str, Any]) -> Exception:
        given = answer.get("error")
        error: dict[str, Any] = given if isinstance(given, dict) else {}
        code, message = str(error.get("code") or answer.get("error") or "no code"), str(error.get("message") or "")
        if answer.get("status") == "suspended":
            return HTTPTargetError(f"the component suspended ({answer.get('reason')}): a run item is one call")
        if answer.get("status") == "completed":
            return HTTPTargetError("the answer has no inline output (large outputs by reference are not read)")
        if error.get("retryable") is True:
            return TransientError(f"HTTP {status} {code} from {self.url}: {message}"[:500])
        if code == "WORKERLESS_HANDLER_FAILED":
            return remote_error(message)
        return HTTPTargetError(f"HTTP {status} {code} from {self.url}{INVOKE_PATH}: {message}"[:500])

    def close(self) -> None:
        self.client.close()


def signed_headers(body: bytes) -> dict[str, str]:
    """The headers of a workerless call: signed (HMAC-SHA256 over ``{timestamp}.{attempt_id}.`` and the body)
    when ``AGNT5_WORKERLESS_SECRET`` is set in this process's environment."""
    headers = {"content-type": "application/json"}
    secret = os.environ.get(SECRET_VARIABLE, "").strip()
    if not secret:
        return headers
    stamp, attempt = str(int(time.time() * 1000)), str(uuid.uuid4())
    digest = hmac.new(secret.encode(), f"{stamp}.{attempt}.".encode() + body, hashlib.sha256).hexdigest()
    return {**headers, "x-agnt5-signature-version": SIGNATURE_VERSION, "x-agnt5-signature": f"sha256={digest}",
            "x-agnt5-timestamp": stamp, "x-agnt5-attempt-id": attempt}  # fmt: skip


def timeout_of(config: dict[str, Any]) -> float | None:
    """The experiment config's ``timeout_s`` (None: no timeout)."""
    value = config.get("timeout_s", DEFAULT_TIMEOUT_S)
    return None if value is None else float(value)


def _http(services: Services, target: dict[str, Any], deployment: Deployment | None) -> Target:
    assert deployment is not None
    timeout = timeout_of(target.get("config") or {})
    return HttpTarget(deployment.url, str(target["component_name"]), str(target["component_type"]), timeout)


FACTORIES["http"] = _http
