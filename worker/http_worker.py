"""Serve a Python module's components over HTTP, in the protocol ``adapters.http_target`` speaks.

* ``GET /components``: 200 ``{"components": [{"name", "type"}, ...], "build": "..."}``; the build is the module's
  ``__version__`` when it has one, else the digest of the tree it was imported from (the digest a snapshot
  deployment of it would have), "" when neither is known. Clients accept a bare list too (older workers).
* ``POST /`` ``{"component_name", "component_type"?, "input", "run_id"?}``: calls the component with a fresh
  ``Context`` (its run id is ``run_id`` when given) and answers

  - 200 ``{"output", "events"}`` on success;
  - 503 ``{"error", "events"}`` when the component raised ``TransientError`` (the caller retries);
  - 422 ``{"error": "Type: message", "events"}`` when it raised anything else, or returned an output that is
    not JSON-serializable (``events``: what it recorded before);
  - 404 for an unknown component or path, 400 for a malformed request.
"""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from agnt5_evals.adapters import bundles
from agnt5_evals.adapters.components import components_of, import_module, invoke
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.sdk import COMPONENT_ATTR, Context, TransientError

Reply = tuple[int, Any]


class ComponentServer(ThreadingHTTPServer):
    """A threading HTTP server holding the components it serves."""

    daemon_threads = True
    request_queue_size = 1024  # a run's threads connect at once; the default backlog of 5 resets connections

    def __init__(self, address: tuple[str, int], components: dict[str, Callable[..., Any]], build: str = "") -> None:
        self.components = components
        self.build = build
        super().__init__(address, ComponentHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def listing(self) -> list[dict[str, str]]:
        return [dict(getattr(fn, COMPONENT_ATTR)) for fn in self.components.values()]

    def call(self, request: Any) -> Reply:
        """Answer one POSTed call: the status and the JSON body."""
        if not isinstance(request, dict) or not isinstance(request.get("component_name"), str):
            return 400, {"error": "the request must be a JSON object with a string 'component_name'"}
        name = request["component_name"]
        fn = self.components.get(name)
        if fn is None:
            return 404, {"error": f"no component {name!r} (this worker serves: {', '.join(self.components)})"}
        declared = getattr(fn, COMPONENT_ATTR)["type"]
        if request.get("component_type") not in (None, declared):
            return 400, {"error": f"component {name!r} is a {declared}, not a {request['component_type']}"}
        return run_component(fn, request.get("input"), str(request.get("run_id") or ""))


def run_component(fn: Callable[..., Any], payload: Any, run_id: str = "") -> Reply:
    """Call a component with a fresh ``Context``; the status and body of the answer."""
    ctx = Context(run_id)
    try:
        output = invoke(fn, ctx, payload)
    except TransientError as exc:
        return 503, {"error": f"TransientError: {exc}", "events": ctx.events}
    except Exception as exc:
        return 422, {"error": f"{type(exc).__name__}: {exc}", "events": ctx.events}
    try:
        orjson.dumps(output)
    except TypeError as exc:
        return 422, {"error": f"TypeError: the output is not JSON-serializable ({exc})", "events": ctx.events}
    return 200, {"output": output, "events": ctx.events}


class ComponentHandler(BaseHTTPRequestHandler):
    """Routes ``GET /components`` and ``POST /`` to the server; every answer is JSON."""

    server: ComponentServer
    protocol_version = "HTTP/1.1"  # keep-alive: the target's client reuses its connections

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/components":
            self._reply(200, {"components": self.server.listing(), "build": self.server.build})
        else:
            self._reply(404, {"error": f"no such path {self.path!r} (GET /components, POST /)"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path not in ("/", ""):
            self._reply(404, {"error": f"no such path {self.path!r} (POST /)"})
            return
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            self._reply(400, {"error": f"the request body is not JSON: {exc}"})
            return
        self._reply(*self.server.call(request))

    def _reply(self, status: int, body: Any) -> None:
        data = orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per request would drown the serving line."""


def make_server(module: str, path: str, host: str, port: int) -> ComponentServer:
    """Import the module and bind the server (not serving yet); errors name the argument at fault."""
    try:
        imported = import_module(module, path)
        found = components_of(imported)
    except Exception as exc:
        raise Invalid(f"cannot import {module!r}: {type(exc).__name__}: {exc}", field="module") from None
    if not found:
        raise Invalid(f"{module} defines no components (mark callables with @component)", field="module")
    version = getattr(imported, "__version__", None)
    build = str(version) if isinstance(version, str) and version else (bundles.live_digest(path, [], []) or "")
    try:
        return ComponentServer((host, port), found, build)
    except OSError as exc:
        raise Invalid(f"cannot listen on {host}:{port}: {exc}", field="host, port") from None


def serve(server: ComponentServer) -> None:
    """Serve until interrupted (Ctrl-C), then close the socket."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
