"""What a component author imports: the ``@component`` marker and the ``Context`` that records a trace.

from agnt5_evals import Context, component

@component("support_agent", type="agent")
def support_agent(ctx: Context, input: dict) -> dict:
    order = ctx.tool_call("search_orders", {"id": input["order_id"]}, result={"status": "shipped"})
    return {"answer": f"Your order is {order['status']}."}
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

COMPONENT_ATTR = "__agnt5_component__"
TYPES = ("function", "agent", "workflow", "tool", "scorer")


def component(name: str | None = None, *, type: str = "function") -> Callable[[F], F]:
    """Mark a callable as a deployable component with a name and a type."""
    if type not in TYPES:
        raise ValueError(f"component type must be one of {', '.join(TYPES)}, got {type!r}")

    def mark(fn: F) -> F:
        setattr(fn, COMPONENT_ATTR, {"name": name or fn.__name__, "type": type})
        return fn

    return mark


CPU_BOUND_ATTR = "__agnt5_cpu_bound__"


def scorer(name: str | None = None, *, cpu_bound: bool = False) -> Callable[[F], F]:
    """Mark a custom scorer: called as ``fn(request)`` or ``fn(ctx, request)`` with ``request`` =
    ``{input, output, expected_output, events, config, metadata}``; returns ``{score, passed?, label?,
    explanation?, metadata?}`` (a bare number is a score, a bare bool a verdict).

    ``cpu_bound=True``: the scorer computes for a while in Python; a worker calls it in a process pool
    (``AGNT5_SCORER_PROCESSES``, default one per core), so it uses every core and never holds up the worker's own
    loop (its heartbeat). Its request and result then travel between processes: keep them JSON-like.
    """
    marked = component(name, type="scorer")

    def mark(fn: F) -> F:
        if cpu_bound:
            setattr(fn, CPU_BOUND_ATTR, True)
        return marked(fn)

    return mark


class TransientError(Exception):
    """Raise from a component for a failure worth retrying (rate limit, flaky network); the run retries it."""


class Context:
    """Records the trace of one execution in the reference's raw event shape."""

    def __init__(self, run_id: str = "") -> None:
        self.run_id = run_id or str(uuid.uuid4())
        self.events: list[dict[str, Any]] = []

    def event(
        self,
        event_type: str,
        data: dict[str, Any] | None = None,
        name: str | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """Record one raw trace event."""
        record = {
            "event_type": event_type,
            "event_id": f"{self.run_id}:{len(self.events)}",
            "correlation_id": correlation_id or self.run_id,
            "parent_correlation_id": self.run_id if correlation_id else None,
            "timestamp_ns": time.time_ns(),
            "data": data or {},
            "name": name,
        }
        self.events.append(record)
        return record

    def tool_call(
        self,
        tool_name: str,
        arguments: dict[str, Any] | None = None,
        *,
        result: Any = None,
        error: str | None = None,
        call: Callable[..., Any] | None = None,
    ) -> Any:
        """Record a tool call; with ``call``, invoke it with the arguments and record its result or error."""
        call_id = str(uuid.uuid4())
        base = {"tool_name": tool_name, "tool_call_id": call_id, "arguments": arguments or {}}
        self.event("tool.call.started", base, tool_name, call_id)
        started = time.perf_counter()
        code: dict[str, str] = {}
        if call is not None and error is None:
            try:
                result = call(**(arguments or {}))
            except Exception as exc:
                error, code = f"{type(exc).__name__}: {exc}", {"error_code": type(exc).__name__}
        duration_ms = (time.perf_counter() - started) * 1000
        if error is not None:
            failed = {**base, "error": error, **code, "duration_ms": duration_ms}
            self.event("tool.call.failed", failed, tool_name, call_id)
            return None
        self.event("tool.call.completed", {**base, "result": result, "duration_ms": duration_ms}, tool_name, call_id)
        return result

    def llm_call(
        self,
        model: str,
        *,
        total_tokens: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        role: str = "",
        failed: bool = False,
    ) -> None:
        """Record an LLM call with its token usage."""
        data = {
            "model": model,
            "total_tokens": total_tokens or input_tokens + output_tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "role": role,
        }
        self.event("lm.call.failed" if failed else "lm.call.completed", data, model)
