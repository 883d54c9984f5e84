"""Execute a run: dispatch items to the target concurrently, retry transient failures, time out slow items,
score outputs, and record results in contiguous chunks, one atomic save per chunk.

Exactly once: a chunk covers positions ``[start, end)`` after the run's watermark and is saved together with
the run's ``ChunkRecorded`` event, so a result is in the log before it counts, nothing is recorded twice (the
run's version and the chunk's deterministic id collide), and a resumed run starts at the watermark: no item
that is in the log is executed again.
"""

from __future__ import annotations

import heapq
import os
import random
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import IntegrityError

from domain import ids
from domain.gates import item_status
from domain.model import DatasetVersion, Deployment
from domain.runs import Run, RunChunk
from domain.scoring import ScorerInput
from runner.bootstrap import Services
from runner.scoring import ScorerRuntime
from runner.sdk import Context
from runner.targets import Target, TransientError, load_target

CHUNK_ITEMS = 500
FLUSH_SECONDS = 0.25
CANCEL_POLL_SECONDS = 0.25


def jsonable(value: Any) -> Any:
    """A JSON-native copy (unknown types as strings), so a recorded event can always be saved."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def tokens_of(events: list[dict[str, Any]]) -> int:
    total = 0
    for event in events:
        kind = str(event.get("event_type") or "")
        data = event.get("data")
        if kind in ("lm.call.completed", "lm.completed") and isinstance(data, dict):
            value = data.get("total_tokens")
            total += int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
    return total


@dataclass(frozen=True)
class Settings:
    """The execution part of an experiment's config."""

    concurrency: int = 8
    timeout_s: float | None = 300.0
    retries: int = 2
    backoff_s: float = 0.5

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        timeout = config.get("timeout_s", 300.0)
        return cls(
            concurrency=int(config.get("concurrency", 8)),
            timeout_s=None if timeout is None else float(timeout),
            retries=int(config.get("retries", 2)),
            backoff_s=float(config.get("retry_backoff_s", 0.5)),
        )


@dataclass
class Slot:
    """One item in flight: its position, the attempt, the trace so far, and when it must finish."""

    position: int
    item: dict[str, Any]
    repetition: int
    run_item: str
    ctx: Context
    started_at: str
    t0: float
    attempt: int = 1
    deadline: float | None = None
    errors: list[str] = field(default_factory=list)


def _call(target: Target, slot: Slot) -> Any:
    return target(slot.ctx, slot.item["input"])


class Executor:
    """Drives one run to a terminal state; the only writer of that run while it executes."""

    def __init__(self, services: Services, run_id: UUID, chunk_items: int = CHUNK_ITEMS) -> None:
        self.services = services
        self.app = services.app
        self.run_id = run_id
        self.chunk_items = chunk_items
        self.scoring = ScorerRuntime(lambda deployment_id: self.app.get(Deployment, deployment_id, "deployment"))

    def execute(self) -> str:
        run = self.app.get(Run, self.run_id, "run")
        if run.status != "running":
            return str(run.status)
        try:
            target = load_target(self.services, run.spec)
            version = self.app.get(DatasetVersion, run.dataset_version_id, "dataset version")
            items = self.app.version_items(version)
            run = _Dispatch(self, run, target, items).drive()
            if run.status == "running":
                run.complete()
                self.app.save(run)
        except Exception as exc:
            traceback.print_exc()
            run = self.app.get(Run, self.run_id, "run")
            if run.status == "running":
                run.fail(f"{type(exc).__name__}: {exc}"[:500])
                self.app.save(run)
        finally:
            self.scoring.close()
            self.services.catch_up()
        return str(run.status)


class _Dispatch:
    """The concurrent loop of one execution of a run (from its watermark to the end, or a cancel)."""

    def __init__(self, executor: Executor, run: Run, target: Target, items: list[dict[str, Any]]) -> None:
        self.ex, self.run, self.target, self.items = executor, run, target, items
        self.settings = Settings.from_config(run.spec.get("config", {}))
        self.pool = ThreadPoolExecutor(max_workers=self.settings.concurrency * 2 + 4, thread_name_prefix="item")
        self.calls: dict[Future[Any], Slot] = {}
        self.scoring: dict[Future[list[dict[str, Any]]], tuple[Slot, dict[str, Any]]] = {}
        self.retry_at: list[tuple[float, int, Slot]] = []
        self.done: dict[int, dict[str, Any]] = {}
        self.next_position = run.next_position
        self.window = max(executor.chunk_items, self.settings.concurrency * 4)
        self.last_flush = self.last_poll = time.monotonic()

    def drive(self) -> Run:
        try:
            while self.run.status == "running" and self.run.next_position < self.run.total:
                self._dispatch()
                self._wait()
                self._flush(force=False)
                self._poll_cancel()
            return self.run
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)

    # -- dispatch -------------------------------------------------------------------------------------

    def _in_flight(self) -> int:
        return len(self.calls) + len(self.scoring)

    def _dispatch(self) -> None:
        now = time.monotonic()
        while self._in_flight() < self.settings.concurrency:
            if self.retry_at and self.retry_at[0][0] <= now:
                _, _, slot = heapq.heappop(self.retry_at)
                slot.attempt += 1
            elif self.next_position < self.run.total and self.next_position < self.run.next_position + self.window:
                slot = self._slot(self.next_position)
                self.next_position += 1
            else:
                return
            slot.deadline = None if self.settings.timeout_s is None else now + self.settings.timeout_s
            self.calls[self.pool.submit(_call, self.target, slot)] = slot

    def _slot(self, position: int) -> Slot:
        item = self.items[position // self.run.repetitions]
        repetition = position % self.run.repetitions
        run_item = str(ids.run_item_id(self.run.id, item["id"], repetition))
        ctx = Context(run_item)
        ctx.event("run.started", {"input": item["input"], "repetition": repetition})
        return Slot(position, item, repetition, run_item, ctx, datetime.now(UTC).isoformat(), time.perf_counter())

    # -- completion -----------------------------------------------------------------------------------

    def _wait(self) -> None:
        pending: list[Future[Any]] = [*self.calls, *self.scoring]
        now = time.monotonic()
        wakeups = [self.last_flush + FLUSH_SECONDS, self.last_poll + CANCEL_POLL_SECONDS]
        wakeups += [s.deadline for s in self.calls.values() if s.deadline is not None]
        wakeups += [self.retry_at[0][0]] if self.retry_at else []
        timeout = max(0.0, min(wakeups) - now)
        if pending:
            finished, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        else:
            finished = set()
            time.sleep(min(timeout, 0.05))
        for future in finished:
            if future in self.calls:
                self._target_done(future, self.calls.pop(future))
            else:
                slot, result = self.scoring.pop(future)
                self._record(slot, result, future.result())
        self._expire(time.monotonic())

    def _target_done(self, future: Future[Any], slot: Slot) -> None:
        error = future.exception()
        if error is None:
            output = future.result()
            try:
                orjson.dumps(output)
            except TypeError as exc:
                self._finish(slot, None, f"TypeError: the output is not JSON-serializable ({exc})")
                return
            self._finish(slot, output, None)
            return
        message = f"{type(error).__name__}: {error}"[:500]
        if isinstance(error, TransientError) and slot.attempt <= self.settings.retries:
            slot.ctx.event("run.attempt.failed", {"attempt": slot.attempt, "error": message, "transient": True})
            delay = self.settings.backoff_s * (2 ** (slot.attempt - 1)) * (1 + random.random() / 4)
            heapq.heappush(self.retry_at, (time.monotonic() + min(delay, 30.0), slot.position, slot))
            return
        self._finish(slot, None, message)

    def _expire(self, now: float) -> None:
        for future, slot in list(self.calls.items()):
            if slot.deadline is not None and now >= slot.deadline:
                del self.calls[future]  # the call keeps its thread, but its result is ignored from now on
                self._finish(slot, None, f"TimeoutError: no result within {self.settings.timeout_s} s")

    def _finish(self, slot: Slot, output: Any, error: str | None) -> None:
        if error is None:
            slot.ctx.event("run.completed", {"attempts": slot.attempt})
        else:
            slot.ctx.event(
                "run.failed", {"error": error, "error_code": error.split(":", 1)[0], "attempts": slot.attempt}
            )
        result = {
            "output": output, "error": error, "events": jsonable(slot.ctx.events), "started_at": slot.started_at,
            "duration_ms": round((time.perf_counter() - slot.t0) * 1000, 3), "attempts": slot.attempt,
        }  # fmt: skip
        result["tokens"] = tokens_of(result["events"])
        if error is not None:
            self._record(slot, result, [])  # an errored item is not scored
            return
        self.scoring[self.pool.submit(self._score, slot, result)] = (slot, result)

    def _score(self, slot: Slot, result: dict[str, Any]) -> list[dict[str, Any]]:
        scores = []
        for index, scorer in enumerate(self.run.spec["scorers"]):
            inp = ScorerInput(
                output=result["output"], expected_output=slot.item.get("expected_output"), input=slot.item["input"],
                config=scorer.get("config") or {}, events=result["events"],
                metadata={"run_id": str(self.run.id), "run_item_id": slot.run_item,
                          "item_metadata": slot.item.get("metadata") or {}},
            )  # fmt: skip
            outcome = self.ex.scoring.score(scorer, inp)
            scores.append(jsonable({
                "id": str(ids.score_id(UUID(slot.run_item), index, scorer["key"])), "key": scorer["key"],
                "name": scorer["name"], "config": scorer.get("config") or {}, **outcome.as_output(),
                "errored": outcome.errored, "evidence": outcome.evidence,
            }))  # fmt: skip
        return scores

    def _record(self, slot: Slot, result: dict[str, Any], scores: list[dict[str, Any]]) -> None:
        self.done[slot.position] = {
            "run_id": str(self.run.id), "run_item_id": slot.run_item, "dataset_item_id": slot.item["id"],
            "position": slot.position, "repetition": slot.repetition, "scores": scores,
            "status": item_status(result["error"], scores), **result,
        }  # fmt: skip

    # -- recording ------------------------------------------------------------------------------------

    def _flush(self, force: bool) -> None:
        """Record the contiguous finished prefix after the watermark, if it is big or old enough."""
        start = end = self.run.next_position
        while end in self.done and end - start < self.ex.chunk_items:
            end += 1
        full = end - start >= self.ex.chunk_items or end == self.run.total
        if end == start or not (force or full or time.monotonic() - self.last_flush >= FLUSH_SECONDS):
            return
        chunk = RunChunk(run_id=self.run.id, chunk_no=self.run.chunks, start=start)
        counts = {"passed": 0, "failed": 0, "errored": 0}
        for position in range(start, end):
            record = self.done.pop(position)
            counts[record["status"]] += 1
            chunk.record_item(**record)
        self.run.record_chunk(chunk.chunk_no, start, end, counts)
        self.last_flush = time.monotonic()
        try:
            self.ex.app.save(self.run, chunk)
        except IntegrityError:
            self._reload_after_conflict()
            return
        self.ex.services.catch_up()

    def _reload_after_conflict(self) -> None:
        """Someone else wrote to the run (a cancel): what finished after it is dropped, and we stop."""
        fresh = self.ex.app.get(Run, self.run.id, "run")
        if fresh.status == "running":
            raise RuntimeError(f"run {self.run.id} was recorded by another worker at the same time")
        self.run = fresh

    def _poll_cancel(self) -> None:
        now = time.monotonic()
        if now - self.last_poll < CANCEL_POLL_SECONDS:
            return
        self.last_poll = now
        stored: Run = self.ex.app.repository.get(self.run.id)
        if stored.version != self.run.version:
            self.run = stored  # cancelled (or finished elsewhere): stop dispatching at once


def exit_now(code: int = 0) -> None:
    """End the worker without waiting for abandoned (timed-out or cancelled) item threads."""
    os._exit(code)
