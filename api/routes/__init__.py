"""One router per resource; every route reads a JSON body with the strict reader (``domain.jsonio``), and the quick
reads (``Router.read``: a run's summary, gate and pages) run in the few threads of ``read_limiter``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from fastapi import APIRouter, Request, Response
from fastapi.dependencies.utils import get_typed_return_annotation, get_typed_signature
from fastapi.routing import APIRoute

from agnt5_evals.domain import jsonio


def _is_json(content_type: str | None) -> bool:
    """What FastAPI parses as JSON: no content type, ``application/json`` or ``application/*+json``."""
    kind = (content_type or "application/json").split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


class StrictJSONRoute(APIRoute):
    """Parses a JSON body strictly before FastAPI sees it: duplicate keys, NaN, integers beyond 64 bits and lone
    surrogates are refused (422, the field named) instead of changed or failing later with a 500."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            body = await request.body()
            if body and _is_json(request.headers.get("content-type")):
                request._json = jsonio.loads(body, "")  # FastAPI's request.json() returns this parsed value
            response: Response = await handler(request)
            return response

        return strict


# the server's default read threads by store (``AGNT5_SERVER_READ_THREADS``): a read on PostgreSQL waits for the
# database part of its time, and four threads kept both cores busy where two left them idle (docs/benchmarks.md)
READ_THREADS = {"sqlite": 2, "postgresql": 4}
_READS: RunVar[CapacityLimiter] = RunVar("agnt5_evals_reads")
F = TypeVar("F", bound=Callable[..., Any])


def read_limiter(threads: int | None = None) -> CapacityLimiter:
    """The threads the reads of this event loop run in (``threads``: make it that many).

    A read is CPU work under the GIL: 10 concurrent reads in 10 threads of the default pool (40) fight for it, and
    on 2 cores that cost twice the CPU of the same reads run two at a time, most of it in the kernel (futex
    hand-overs), and doubled the p50 under 10 clients (``scripts/bench/reads``, docs/benchmarks.md). Commands and
    inline evals (which run a component and may take seconds) keep the default pool, so they never hold a read up.
    """
    if threads is not None:
        _READS.set(CapacityLimiter(threads))
    try:
        return _READS.get()
    except LookupError:
        _READS.set(CapacityLimiter(READ_THREADS["sqlite"]))
        return _READS.get()


PAGE_ROWS = 1000  # the most rows a ``Router.read`` page may ask for to be read in the read threads


def in_read_threads(
    endpoint: Callable[..., Any], bounded: Callable[[dict[str, Any]], bool] | None = None
) -> Callable[..., Any]:
    """A sync read as an async endpoint that runs it (with the request's context) in ``read_limiter``'s threads, or
    in the default pool when ``bounded`` says the call's arguments ask for a long answer (all of a run's items):
    that one would hold a read thread for seconds."""

    @functools.wraps(endpoint)
    async def read(*args: Any, **kwargs: Any) -> Any:
        call = functools.partial(endpoint, *args, **kwargs)
        if bounded is None or bounded(kwargs):
            return await to_thread.run_sync(call, limiter=read_limiter())
        return await to_thread.run_sync(call)

    typed = get_typed_signature(endpoint)  # resolved here: FastAPI reads the wrapper's, in this module's globals
    read.__signature__ = typed.replace(return_annotation=get_typed_return_annotation(endpoint))  # type: ignore[attr-defined]
    return read


class Router(APIRouter):
    """An ``APIRouter`` whose routes take their OpenAPI summary from the first line of the handler's docstring, with
    ``read`` for the quick reads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(route_class=kwargs.pop("route_class", StrictJSONRoute), **kwargs)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if kwargs.get("summary") is None:
            kwargs["summary"] = (inspect.getdoc(endpoint) or "").split("\n")[0] or None
        super().add_api_route(path, endpoint, **kwargs)

    def read(
        self, path: str, *, bounded: Callable[[dict[str, Any]], bool] | None = None, **kwargs: Any
    ) -> Callable[[F], F]:
        """``get`` for a quick read, run in the read threads (``in_read_threads``; ``bounded``: when the call's
        arguments ask for a short answer). Only for a sync handler whose answer is small or serialised by the
        handler itself (``api.bodies.json_rows``): FastAPI validates an async endpoint's answer on the event loop,
        where a big one would stall every other request. The other sync ``GET`` routes keep FastAPI's default pool
        (40 threads), where validating is in the thread too."""

        def decorator(endpoint: F) -> F:
            if inspect.iscoroutinefunction(endpoint):
                raise TypeError(f"{endpoint.__name__}: Router.read is for a sync handler")
            self.add_api_route(path, in_read_threads(endpoint, bounded), methods=["GET"], **kwargs)
            return endpoint

        return decorator


def short(limit: str, most: int = PAGE_ROWS) -> Callable[[dict[str, Any]], bool]:
    """``bounded`` for a read whose argument ``limit`` caps its rows (None: no cap)."""

    def bounded(arguments: dict[str, Any]) -> bool:
        value = arguments.get(limit)
        return isinstance(value, int) and value <= most

    return bounded
