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

Bodies and error texts are scrubbed of known secrets (``adapters.secrets``) before anything is kept.
"""

from __future__ import annotations

import functools
from typing import Any

import httpx
import orjson

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.secrets import scrub
from agnt5_evals.adapters.targets import FACTORIES, Target
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.model import Deployment
from agnt5_evals.sdk import Context, TransientError

DISCOVERY_TIMEOUT_S = 10.0
DEFAULT_TIMEOUT_S = 300.0
COMPONENT_RAISED = 422


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
    """An absolute http(s) URL, without its trailing slash."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise Invalid(f"{url!r} is not a URL ({exc})", field=field) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Invalid(f"{url!r} is not an http:// or https:// URL", field=field)
    return url.strip().rstrip("/")


def _component_list(body: Any) -> list[dict[str, str]]:
    if not isinstance(body, list):
        raise ValueError("the answer is not a JSON array")
    components = []
    for entry in body:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ValueError(f"{entry!r} is not an object with a name")
        if not isinstance(entry.get("type"), str):
            raise ValueError(f"component {entry['name']!r} has no type")
        components.append({"name": entry["name"], "type": entry["type"]})
    return components


def discover_http(url: str, timeout_s: float = DISCOVERY_TIMEOUT_S) -> list[dict[str, str]]:
    """List the components an HTTP deployment serves (``GET {url}/components``); errors name the field ``url``."""
    return discover_http_build(url, timeout_s)[0]


def discover_http_build(url: str, timeout_s: float = DISCOVERY_TIMEOUT_S) -> tuple[list[dict[str, str]], str]:
    """The components an HTTP deployment serves and the build it reports ("" when none): ``GET {url}/components``
    answers a list (older workers) or ``{"components": [...], "build" or "version": "..."}``."""
    where = f"{url}/components"
    try:
        response = httpx.get(where, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise Invalid(f"cannot reach {where}: {type(exc).__name__}: {exc}", field="url") from None
    if response.status_code != 200:
        raise Invalid(f"GET {where} answered HTTP {response.status_code}: {scrub(response.text[:200])}", field="url")
    try:
        body, build = orjson.loads(response.content), ""
        if isinstance(body, dict):
            build = body.get("build") or body.get("version") or ""
            if not isinstance(build, str | int | float) or len(str(build)) > 200:
                raise ValueError("its build or version is not a string of at most 200 characters")
            body = body.get("components")
        return _component_list(body), str(build)
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
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])[:300]
    return str(scrub(response.text[:300])) or response.reason_phrase


def _is_transient(status: int) -> bool:
    return status == 429 or status >= 500


class HttpTarget:
    """Calls one component of an HTTP deployment; one client per adapter, shared by every item and thread."""

    def __init__(self, url: str, component_name: str, component_type: str, timeout_s: float | None) -> None:
        self.url = url
        self.component_name = component_name
        self.component_type = component_type
        self.client = httpx.Client(timeout=timeout_s, limits=httpx.Limits(max_connections=None))

    def __call__(self, ctx: Context, payload: Any) -> Any:
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
                raise HTTPTargetError(f"HTTP 200 from {self.url}: the body is not JSON: {scrub(response.text[:200])!r}")
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

    def close(self) -> None:
        self.client.close()


def timeout_of(config: dict[str, Any]) -> float | None:
    """The experiment config's ``timeout_s`` (None: no timeout)."""
    value = config.get("timeout_s", DEFAULT_TIMEOUT_S)
    return None if value is None else float(value)


def _http(services: Services, target: dict[str, Any], deployment: Deployment | None) -> Target:
    assert deployment is not None
    timeout = timeout_of(target.get("config") or {})
    return HttpTarget(deployment.url, str(target["component_name"]), str(target["component_type"]), timeout)


FACTORIES["http"] = _http
