"""Scorer dispatch in a worker: built-ins (pure, with the LLM client for judges) and custom scorer components."""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import dataclasses
import inspect
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable
from typing import Any
from uuid import UUID

from agnt5_evals.adapters.components import components_of, import_module
from agnt5_evals.domain.model import Deployment
from agnt5_evals.domain.scoring import ScoreResult, ScorerInput, run_scorer
from agnt5_evals.sdk import CPU_BOUND_ATTR, Context

DEFAULT_TIMEOUT_S = 60.0
MAX_STACK_CHARS = 8000


def stack_of(exc: BaseException) -> str:
    """A failure's stack trace, capped (its end kept: the raising frame and the message)."""
    text = "".join(traceback.format_exception(exc))
    return text if len(text) <= MAX_STACK_CHARS else "...\n" + text[-MAX_STACK_CHARS:]


def coerce(value: Any) -> ScoreResult:
    """A custom scorer's return value as a score: a dict of the result contract, a number or a bool."""
    if isinstance(value, bool):
        return ScoreResult(1.0 if value else 0.0, value)
    if isinstance(value, int | float):
        score = min(1.0, max(0.0, float(value)))
        return ScoreResult(score, score >= 0.5)
    if not isinstance(value, dict) or not isinstance(value.get("score", 0), int | float):
        return ScoreResult(0.0, False, "invalid_result", f"scorer returned {type(value).__name__}: {value!r}"[:300],
                           errored=True)  # fmt: skip
    raw = value.get("score", 0)
    score = 0.0 if isinstance(raw, bool) else min(1.0, max(0.0, float(raw)))
    passed = value["passed"] if isinstance(value.get("passed"), bool) else score >= 0.5
    label = value.get("label") if isinstance(value.get("label"), str) else None
    explanation = value.get("explanation") if isinstance(value.get("explanation"), str) else None
    metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else None
    return ScoreResult(score, passed, label, explanation, metadata)


def request(inp: ScorerInput) -> dict[str, Any]:
    """The request a custom scorer receives."""
    return {
        "input": inp.input,
        "output": inp.output,
        "expected_output": inp.expected_output,
        "expected": inp.expected_output,
        "events": inp.events,
        "trace": inp.events,
        "config": inp.config,
        "metadata": inp.metadata,
    }


def _llm_from_env() -> Any:
    """The judge endpoint, if configured (httpx is imported only then)."""
    if not os.environ.get("AGNT5_LLM_BASE_URL", "").strip():
        return None
    from agnt5_evals.adapters import llm

    return llm.from_env()


class ScorerRuntime:
    """Scores items in a worker process; loads custom scorer components once per deployment."""

    def __init__(
        self, load_deployment: Callable[[UUID], Deployment], locate: Callable[[Deployment], str] | None = None
    ) -> None:
        self.load_deployment = load_deployment
        self.locate = locate or (lambda deployment: deployment.path)  # where a Python deployment's code is
        self.llm = _llm_from_env()
        self.custom: dict[tuple[str, str], Callable[..., Any]] = {}
        self.in_process: dict[tuple[str, str], tuple[str, str, str]] = {}  # cpu-bound: (module, path, component)
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="scorer")

    def _custom_fn(self, spec: dict[str, Any]) -> Callable[..., Any]:
        key = (spec["deployment_id"], spec["component_name"])
        if key not in self.custom:
            deployment = self.load_deployment(UUID(spec["deployment_id"]))
            if deployment.kind == "http":
                from agnt5_evals.adapters.http_target import HttpTarget

                remote = HttpTarget(deployment.url, spec["component_name"], "scorer", DEFAULT_TIMEOUT_S)
                self.custom[key] = lambda ctx, request: remote(ctx, request)
                return self.custom[key]
            found = components_of(import_module(deployment.module, self.locate(deployment)))
            if spec["component_name"] not in found:
                raise LookupError(f"scorer component {spec['component_name']!r} not found in {deployment.module}")
            fn = found[spec["component_name"]]
            if getattr(fn, CPU_BOUND_ATTR, False):
                self.in_process[key] = (deployment.module, self.locate(deployment), spec["component_name"])
            self.custom[key] = fn
        return self.custom[key]

    def score(self, spec: dict[str, Any], inp: ScorerInput) -> ScoreResult:
        if spec.get("type") != "custom":
            if inp.llm is not self.llm:
                inp = dataclasses.replace(inp, llm=self.llm)
            return run_scorer(spec, inp)
        return self.score_custom(spec, inp)

    def score_custom(self, spec: dict[str, Any], inp: ScorerInput) -> ScoreResult:
        try:
            fn = self._custom_fn(spec)
        except Exception as exc:
            return ScoreResult(0.0, False, "scorer_not_found", f"{type(exc).__name__}: {exc}", errored=True)
        payload = request(inp)
        timeout = float((spec.get("config") or {}).get("timeout_s", DEFAULT_TIMEOUT_S))
        located = self.in_process.get((spec["deployment_id"], spec["component_name"]))
        future: concurrent.futures.Future[Any] | None = None
        try:
            if located is not None:  # cpu-bound: in the process pool, so it never holds this process's GIL
                future = scorer_processes().submit(_call_located, *located, payload)
            else:
                future = self.pool.submit(_call, fn, payload)
            value = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            if future is not None:
                future.cancel()  # not started yet: it never runs; running: its thread or process finishes alone
            return ScoreResult(0.0, False, "timeout_error", f"scorer timed out after {timeout}s", errored=True)
        except concurrent.futures.process.BrokenProcessPool as exc:  # a scorer process died (memory, a crash)
            reset_scorer_processes()
            return ScoreResult(0.0, False, "error", f"the scorer's process died: {exc}"[:500], errored=True)
        except Exception as exc:  # the scorer raised: its stack trace is the score's evidence
            return ScoreResult(0.0, False, "error", f"{type(exc).__name__}: {exc}"[:500], errored=True,
                               evidence={"stack": stack_of(exc)})  # fmt: skip
        result = coerce(value)
        return ScoreResult(result.score, result.passed, result.label, result.explanation, result.metadata,
                           result.errored, {"scorer_request_keys": sorted(payload), "returned": value})  # fmt: skip

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.llm is not None:
            self.llm.close()


_processes: concurrent.futures.ProcessPoolExecutor | None = None
_processes_lock = threading.Lock()
_located: dict[tuple[str, str, str], Callable[..., Any]] = {}  # in a scorer process: the imported scorers


def scorer_processes() -> concurrent.futures.ProcessPoolExecutor:
    """This process's pool for cpu-bound scorers, started on first use (forkserver: no thread or connection of
    the worker is inherited) and shared by every run it executes."""
    global _processes
    with _processes_lock:
        if _processes is None:
            raw = os.environ.get("AGNT5_SCORER_PROCESSES", "").strip()
            size = int(raw) if raw.isascii() and raw.isdecimal() and int(raw) > 0 else (os.cpu_count() or 1)
            context = multiprocessing.get_context("forkserver")
            _processes = concurrent.futures.ProcessPoolExecutor(max_workers=size, mp_context=context)
        return _processes


def reset_scorer_processes() -> None:
    """Drop a broken pool: the next cpu-bound scorer starts a new one."""
    global _processes
    with _processes_lock:
        broken, _processes = _processes, None
    if broken is not None:
        broken.shutdown(wait=False, cancel_futures=True)


def _call_located(module: str, path: str, name: str, payload: dict[str, Any]) -> Any:
    """In a scorer process: import the scorer's module once (as the worker does), then call it."""
    key = (module, path, name)
    fn = _located.get(key)
    if fn is None:
        fn = _located[key] = components_of(import_module(module, path))[name]
    return _call(fn, payload)


def _call(fn: Callable[..., Any], payload: dict[str, Any]) -> Any:
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]  # fmt: skip
    result = fn(Context(), payload) if len(params) >= 2 else fn(payload)
    if inspect.isawaitable(result):
        import asyncio

        async def wait() -> Any:
            return await result

        return asyncio.run(wait())
    return result
