"""Components written with the public AGNT5 SDK (``agnt5``, the extra ``agnt5-evals[agnt5]``), run unchanged.

A deployment module may use the SDK's decorators (``@function``, ``@agent``/``Agent(...)``, ``@tool``,
``@workflow``, ``@scorer``) instead of ours. The SDK registers them in process-global registries at import time, so
``import_module`` takes a snapshot of the registries, imports the module, keeps what the import added as that
module's components and takes it out of the registries again: a later import of another deployment (or of the same
module after ``forget_imported``) never collides with it or sees it.

Each component runs as the SDK's worker would run it (research notes, docs/research/agnt5-sdk-0.14.5.md §1-3): a
real SDK context (``FunctionContext``, ``Context`` for a tool, ``AgentContext``, ``WorkflowContext``,
``ScorerContext``) whose events go to a capturing stand-in for the SDK's Rust worker, so every journal event the
component emits joins the item's trace; the context by the first parameter's name, then ``**input``; an agent gets
the message the SDK maps from the input and answers ``{"output", "tool_calls"}``; a scorer gets a ``ScorerRequest``
and may answer a ``ScorerResult`` (a number or a bool as the SDK's worker coerces them).

Nothing here imports ``agnt5`` before a deployment module did: the package works without the extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import inspect
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from agnt5_evals.domain.trace import sdk_trace, trace_eval_context
from agnt5_evals.sdk import COMPONENT_ATTR, Context

KINDS = ("function", "workflow", "tool", "agent", "scorer")
_HEADER = ("event_type", "event_id", "correlation_id", "parent_correlation_id", "timestamp_ns")
_owned: dict[str, dict[str, dict[str, Any]]] = {}  # module name -> kind -> component name -> registry entry


def loaded() -> bool:
    """Whether the SDK is imported in this process (only then can a module have registered SDK components)."""
    return "agnt5" in sys.modules


def _registries() -> dict[str, Any]:
    from agnt5.agent import AgentRegistry
    from agnt5.function import FunctionRegistry
    from agnt5.scorer import ScorerRegistry
    from agnt5.tool import ToolRegistry
    from agnt5.workflow import WorkflowRegistry

    return {"function": FunctionRegistry, "workflow": WorkflowRegistry, "tool": ToolRegistry,
            "agent": AgentRegistry, "scorer": ScorerRegistry}  # fmt: skip


def _snapshot() -> dict[str, dict[str, Any]]:
    return {kind: dict(registry.all()) for kind, registry in _registries().items()} if loaded() else {}


def import_module(module: str) -> Any:
    """Import a deployment module, keeping the SDK components its import registered as its own (see above)."""
    before = _snapshot()
    try:
        imported = importlib.import_module(module)
    finally:
        if loaded():
            _claim(module, before)
    return imported


def _claim(module: str, before: dict[str, dict[str, Any]]) -> None:
    """Move what the import added to the registries into ``_owned[module]`` (also after a failed import)."""
    added: dict[str, dict[str, Any]] = {}
    for kind, registry in _registries().items():
        old = before.get(kind, {})
        new = {name: entry for name, entry in registry.all().items() if old.get(name) is not entry}
        for name in new:
            registry.discard(name)
        added[kind] = new
    if any(added.values()) or module not in _owned:
        _owned[module] = added


def _defined_in(entry: Any, module: str) -> bool:
    handler = getattr(entry, "handler", entry)
    name = str(getattr(handler, "__module__", None) or getattr(entry, "__module__", None) or "")
    return bool(name) and (name == module or name.startswith(module + "."))


def _entries(module: Any) -> dict[str, dict[str, Any]]:
    """The SDK registry entries of a module: claimed at its import, else (imported elsewhere) found by module."""
    name = module.__name__
    if name in _owned:
        return _owned[name]
    return {kind: {n: e for n, e in registry.all().items() if _defined_in(e, name)}
            for kind, registry in _registries().items()}  # fmt: skip


def components_of(module: Any) -> dict[str, Callable[..., Any]]:
    """The module's SDK components as our components: ``fn(ctx, input)`` callables carrying our marker."""
    if not loaded():
        return {}
    found: dict[str, Callable[..., Any]] = {}
    for kind, entries in _entries(module).items():
        for name, entry in entries.items():
            found[name] = SdkComponent(kind, name, entry)
    return found


# -- running ------------------------------------------------------------------------------------------------------


class CaptureWorker:
    """Stands in for the SDK's Rust worker: journal (checkpoint) events join our item trace; SSE-only ones
    (``log.*``, ``lm.message.*`` deltas), which the platform does not journal either, are dropped."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def record(self, event_type: str, event_data: Any, metadata: Any, timestamp_ns: Any = None) -> None:
        try:
            data = orjson.loads(event_data) if isinstance(event_data, bytes | bytearray | str) else event_data
        except orjson.JSONDecodeError:
            data = {"raw": str(event_data)[:500]}
        data = dict(data) if isinstance(data, dict) else {"value": data}
        meta = metadata if isinstance(metadata, dict) else {}
        self.ctx.events.append({
            "event_type": str(event_type),
            "event_id": str(data.get("event_id") or f"{self.ctx.run_id}:{len(self.ctx.events)}"),
            "correlation_id": data.get("correlation_id") or meta.get("correlation_id") or self.ctx.run_id,
            "parent_correlation_id": data.get("parent_correlation_id") or meta.get("parent_correlation_id"),
            "timestamp_ns": data.get("timestamp_ns") or timestamp_ns or time.time_ns(),
            "data": {key: value for key, value in data.items() if key not in _HEADER},
            "name": data.get("name"),
        })  # fmt: skip

    def queue_event(self, **kw: Any) -> None:
        if not kw.get("is_streaming"):
            self.record(kw["event_type"], kw["event_data"], kw.get("metadata"), kw.get("source_timestamp_ns"))

    def emit_event_sync(self, **kw: Any) -> None:
        self.record(kw["event_type"], kw["event_data"], kw.get("metadata"), kw.get("source_timestamp_ns"))

    async def emit_event_async(self, **kw: Any) -> None:
        self.emit_event_sync(**kw)

    async def emit_event_batch_async(self, batch: list[tuple[Any, ...]]) -> None:
        for _run_id, event_type, event_data, _sequence, metadata, timestamp_ns in batch:
            self.record(event_type, event_data, metadata, timestamp_ns)

    def flush_workflow_checkpoints(self) -> None:
        return None


def _takes_ctx(fn: Callable[..., Any]) -> bool:
    """The SDK's rule: a context is passed when the first parameter is named ``ctx``."""
    params = list(inspect.signature(fn).parameters.values())
    return bool(params) and params[0].name == "ctx"


def _kwargs(kind: str, name: str, payload: Any) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise ValueError(f"the input of {kind} {name!r} must be a JSON object (the SDK spreads it as keyword "
                         f"arguments), got {type(payload).__name__}")  # fmt: skip
    return payload


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _cid() -> str:
    from agnt5._ids import generate_cid

    return str(generate_cid())


@contextlib.contextmanager
def _current(sdk_ctx: Any) -> Iterator[None]:
    """Make ``sdk_ctx`` the SDK's current context (LM calls emit their ``lm.*`` events to it)."""
    from agnt5.context import _current_context, set_current_context

    token = set_current_context(sdk_ctx)
    try:
        yield
    finally:
        _current_context.reset(token)


class SdkComponent:
    """One SDK component, called as ours (``fn(ctx, input)``) and run as the SDK's worker runs it."""

    def __init__(self, kind: str, name: str, entry: Any) -> None:
        self.kind, self.name, self.entry = kind, name, entry
        setattr(self, COMPONENT_ATTR, {"name": name, "type": kind, "sdk": "agnt5"})

    def __call__(self, ctx: Context, payload: Any) -> Any:
        return asyncio.run(getattr(self, f"_{self.kind}")(ctx, payload))

    async def _function(self, ctx: Context, payload: Any) -> Any:
        from agnt5.function import FunctionContext

        kwargs = _kwargs("function", self.name, payload)
        sdk_ctx = FunctionContext(run_id=ctx.run_id, correlation_id=_cid(), parent_correlation_id="", attempt=0,
                                  retry_policy=self.entry.retries, worker=CaptureWorker(ctx),
                                  trace_metadata={})  # fmt: skip
        sdk_ctx.component_name = self.name
        handler = self.entry.handler
        with _current(sdk_ctx):
            result = handler(sdk_ctx, **kwargs) if _takes_ctx(handler) else handler(**kwargs)
            return await _maybe_await(result)

    async def _tool(self, ctx: Context, payload: Any) -> Any:
        """A tool invoked directly, as the SDK's worker does: ``tool.started|completed|failed`` around the call."""
        from agnt5.context import Context as SdkContext
        from agnt5.events import Completed, ComponentType, Failed, Started

        kwargs = _kwargs("tool", self.name, payload)
        sdk_ctx = SdkContext(run_id=ctx.run_id, correlation_id=f"tool-{secrets.token_hex(5)}",
                             parent_correlation_id=_cid(), worker=CaptureWorker(ctx), trace_metadata={})  # fmt: skip
        cid, common = f"tool-{secrets.token_hex(5)}", {"name": self.name, "component_type": ComponentType.TOOL}
        await sdk_ctx.emit_async(Started(correlation_id=cid, parent_correlation_id="", input_data=kwargs, **common))
        started = time.monotonic()
        try:
            with _current(sdk_ctx):
                result = await self.entry.invoke(sdk_ctx, **kwargs)
        except Exception as exc:
            message, duration = f"{type(exc).__name__}: {exc}", _ms_since(started)
            failed = Failed(correlation_id=cid, parent_correlation_id="", error_code=type(exc).__name__,
                            error_message=message, duration_ms=duration, **common)  # fmt: skip
            await sdk_ctx.emit_async(failed)
            raise
        completed = Completed(correlation_id=cid, parent_correlation_id="", output_data=result,
                              duration_ms=_ms_since(started), **common)  # fmt: skip
        await sdk_ctx.emit_async(completed)
        return result

    async def _agent(self, ctx: Context, payload: Any) -> Any:
        """The worker's agent path: the message from ``message`` (or a string ``input``; a bare string is the
        message), history from ``messages``; the answer ``{"output", "tool_calls"}``."""
        from agnt5.agent import AgentContext

        inp = {"message": payload} if isinstance(payload, str) else _kwargs("agent", self.name, payload)
        message = agent_message(inp)
        if not message:
            raise ValueError(f"agent {self.name!r} needs a 'message' key (or a string 'input') in its input; "
                             f"received keys: {sorted(inp)}")  # fmt: skip
        sdk_ctx = AgentContext(run_id=ctx.run_id, agent_name=self.entry.name,
                               session_id=str(inp.get("session_id") or ctx.run_id), user_id=inp.get("user_id"),
                               worker=CaptureWorker(ctx), correlation_id=_cid(), parent_correlation_id=_cid(),
                               trace_metadata={})  # fmt: skip
        sdk_ctx._session_history_managed = True  # no history fetch from an AGNT5 gateway: a run item is one turn
        history = inp.get("messages")
        result = await self.entry.run(message, context=sdk_ctx, history=history if isinstance(history, list) else None)
        answer: dict[str, Any] = {"output": result.output, "tool_calls": list(result.tool_calls or [])}
        if getattr(result, "handoff_to", None):
            answer["handoff_to"] = result.handoff_to
        return answer

    async def _workflow(self, ctx: Context, payload: Any) -> Any:
        """A workflow with an in-memory state adapter, as the SDK runs one outside a platform worker."""
        from agnt5._state_adapter import StateAdapter, _state_adapter_ctx
        from agnt5.workflow import WorkflowContext, WorkflowEntity

        kwargs = _kwargs("workflow", self.name, payload)
        token = _state_adapter_ctx.set(StateAdapter())
        try:
            entity = WorkflowEntity(run_id=ctx.run_id)
            sdk_ctx = WorkflowContext(workflow_entity=entity, run_id=ctx.run_id, worker=CaptureWorker(ctx),
                                      correlation_id=_cid(), parent_correlation_id="", trace_metadata={})  # fmt: skip
            with _current(sdk_ctx):
                return await self.entry.handler(sdk_ctx, **kwargs)
        finally:
            _state_adapter_ctx.reset(token)

    async def _scorer(self, ctx: Context, payload: Any) -> Any:
        """``payload`` is our scorer request (worker.scoring.request); the answer is our score dict."""
        from agnt5 import ScorerRequest
        from agnt5.eval.types import TraceEvent
        from agnt5.scorer import ScorerContext

        given = payload if isinstance(payload, dict) else {}
        events, meta = given.get("events") or [], given.get("metadata") or {}
        context = meta.get("trace_eval_context") or trace_eval_context(
            events, session_id=str(meta.get("run_item_id") or ctx.run_id), root_run_id=str(meta.get("run_id") or "")
        )
        request = ScorerRequest(output=given.get("output"), expected=given.get("expected_output"),
                                input=given.get("input"), trace=[TraceEvent(**event) for event in sdk_trace(events)],
                                config=dict(given.get("config") or {}), trace_eval_context=context)  # fmt: skip
        handler = self.entry.handler
        if _takes_ctx(handler):
            sdk_ctx = ScorerContext(run_id=ctx.run_id, correlation_id=f"scorer-{secrets.token_hex(5)}",
                                    parent_correlation_id=_cid(), trace_metadata={})  # fmt: skip
            value = await _maybe_await(handler(sdk_ctx, request))
        else:
            value = await _maybe_await(handler(request))
        return scorer_answer(value)


def agent_message(inp: dict[str, Any]) -> Any:
    """The SDK worker's ``_agent_user_message``: ``message``, else a non-empty string ``input``."""
    message = inp.get("message")
    if message:
        return message
    fallback = inp.get("input")
    return fallback if isinstance(fallback, str) and fallback else (message or "")


def scorer_answer(value: Any) -> Any:
    """A ``ScorerResult`` as our score dict; anything else as the SDK's worker coerces it (numbers and bools
    keep their meaning, other values score 0)."""
    from agnt5 import ScorerResult

    if isinstance(value, ScorerResult):
        return {key: val for key, val in dataclasses.asdict(value).items() if val is not None}
    if isinstance(value, bool | int | float):
        return value
    result = ScorerResult(score=0.0)
    return {**dataclasses.asdict(result), "explanation": f"scorer returned {type(value).__name__}, not a ScorerResult"}
