"""ASGI guards in front of every route: the ``Host`` header (no DNS rebinding) and the request body's size.

Both answer with the API's problem body (``message``, ``code``, ``field``) before any route runs.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agnt5_evals.api.routes.inline import eval_refusal, is_eval_path


async def _problem(send: Send, status: int, title: str, message: str, code: str, field: str, path: str) -> None:
    """The problem body; on an inline eval's route, also a refused ``EvalResponse`` (the SDK would read a bare
    problem body as an eval that passed)."""
    refused = eval_refusal(status, message, code, field) if is_eval_path(path) else {}
    problem = {"type": "about:blank", "title": title, "status": status, "detail": f"{field}: {message}",
               "message": message, "code": code, "field": field}  # fmt: skip
    body = orjson.dumps({**refused, **problem})
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def host_name(value: str) -> str:
    """The name of a ``Host`` header without its port: ``[::1]:8000`` is ``::1``, ``Example.org:80`` ``example.org``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


class HostCheck:
    """Refuses (421) a request whose ``Host`` is not one of the server's names: a page of another site whose name
    was re-pointed at this server (DNS rebinding) sends its own name."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.inner, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            given = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if host_name(given) not in self.allowed:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await _problem(send, 421, "Misdirected Request",
                               f"this server does not answer to the host {host_name(given)[:100]!r} (see "
                               "AGNT5_ALLOWED_HOSTS or agnt5 server --allowed-host)", "invalid", "host",
                               scope.get("path", ""))  # fmt: skip
                return
        await self.inner(scope, receive, send)


class BodyLimit:
    """Refuses (413) a request body above ``limit`` bytes: at once when its ``Content-Length`` says so, else while
    it streams (a chunked body, or a ``Content-Length`` that lies). The body is read before the route runs, which
    then reads it from memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.inner, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.strip().isdigit() and int(declared) > self.limit:
            await self._too_large(send, scope.get("path", ""))
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(send, scope.get("path", ""))
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        await self.inner(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, send: Send, path: str) -> None:
        await _problem(send, 413, "Content Too Large", f"the request body is larger than {self.limit:,} bytes "
                       "(AGNT5_MAX_BODY_BYTES)", "too_large", "body", path)  # fmt: skip


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body once, then waits on the client (for its disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = dict(await receive())
        return message

    return replay
