"""Live progress as server-sent events (``text/event-stream``): ``GET /runs/{id}/progress`` and
``GET /rescores/{id}/progress``, which the remote CLI follows for ``--wait``. The route's response model describes
the ``data`` of the last event (the full summary); an unknown id answers 404 before the stream starts.

A stream sends ``event: progress`` with the short summary whenever the status or the count of finished items
changes, a ``: keep-alive`` comment line when nothing changed for a while, and ends with one ``event: summary``
holding the full summary once the work is over, or ``event: timeout`` with the last short summary when the
``timeout`` the client gave passed first. A store error ends the stream with ``event: error`` and a problem body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from agnt5_evals.domain.errors import EvalsError

POLL_S = 0.2
KEEP_ALIVE_S = 15.0
TERMINAL = ("completed", "failed", "cancelled")
EXAMPLE = (
    'event: progress\ndata: {"id": "...", "status": "running", "done_items": 40, "total_items": 100, ...}\n\n'
    'event: summary\ndata: {"id": "...", "status": "completed", "pass_rate": 1.0, ...}\n\n'
)
EVENT_STREAM: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {"example": EXAMPLE}}}}


class EventStream(StreamingResponse):
    """Server-sent events; the route's ``response_model`` describes the data of its final event."""

    media_type = "text/event-stream"


def event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def progress_events(
    look: Callable[[], dict[str, Any]],
    final: Callable[[], dict[str, Any]],
    first: dict[str, Any],
    timeout: float | None,
    done: Callable[[dict[str, Any]], bool] = lambda row: row["status"] in TERMINAL,
    count: str = "done_items",
) -> AsyncIterator[bytes]:
    """The events of one stream: ``look`` is a short look at the work, ``final`` its full summary."""
    deadline = None if timeout is None else time.monotonic() + timeout
    current, last, quiet_since = first, None, time.monotonic()
    try:
        while not done(current):
            seen = (current["status"], current.get(count))
            if seen != last:
                yield event("progress", current)
                last, quiet_since = seen, time.monotonic()
            elif time.monotonic() - quiet_since >= KEEP_ALIVE_S:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()
            if deadline is not None and time.monotonic() >= deadline:
                yield event("timeout", current)
                return
            await asyncio.sleep(POLL_S)
            current = await run_in_threadpool(look)
        yield event("summary", await run_in_threadpool(final))
    except EvalsError as exc:
        yield event("error", {"title": type(exc).__name__, "detail": str(exc), **exc.as_dict()})


def stream(events: AsyncIterator[bytes]) -> EventStream:
    return EventStream(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
