"""Execute a run's shards: dispatch items to the target concurrently, retry transient failures, time out slow
items, score outputs, and record results in chunks through the Application, several chunks per atomic save.

One code path for every executor: the in-process one (``worker.execute``, the embedded mode) drives all of a run's
shards in one ``Dispatch``; a pool worker (``worker.shards``) drives the one shard it took. A run is split into
shards when it starts (``Run.plan_shards``); each shard is recorded in chunks from its own watermark
(``Run.mark``), so progress shows every ``FLUSH_SECONDS`` and a save stays small whatever the shard's size.

Exactly once: a chunk starts at its shard's watermark and is saved together with the run's ``ChunkRecorded``
event, so a result is in the log before it counts, nothing is recorded twice (the run's version and the chunk's
deterministic id collide), and an execution that resumes starts at the watermarks: no item that is in the log is
executed again.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from agnt5_evals.adapters.secrets import scrub, scrub_encoded, usable_secrets
from agnt5_evals.adapters.targets import Target, TransientError
from agnt5_evals.domain import ids
from agnt5_evals.domain.application import EvalsApplication
from agnt5_evals.domain.errors import Conflict
from agnt5_evals.domain.gates import item_status
from agnt5_evals.domain.runs import Run
from agnt5_evals.domain.scoring import ScorerInput
from agnt5_evals.domain.trace import total_tokens
from agnt5_evals.sdk import Context
from agnt5_evals.worker.items import Item, Items, ListItems, Positions
from agnt5_evals.worker.scoring import ScorerRuntime, stack_of
from agnt5_evals.worker.tuning import PERIOD, PERIOD_SAVES, Tuner

CHUNK_ITEMS = 500
MAX_ITEM_BYTES = 768 * 1024  # one run item's record; PostgreSQL saves of a few MiB hang (psycopg pipeline)
MAX_CHUNK_BYTES = 1024 * 1024  # a chunk is saved once it holds this much
SIZE = "__bytes__"  # a finished record's encoded size, carried to the recording thread
FLUSH_SECONDS = 0.25
TAIL_FLUSH_SECONDS = 0.05  # the last few waves: the final chunk stays small, so readers see the end sooner
TAIL_WAVES = 8
SHARED_FLUSH_SECONDS = 2.0  # a pool worker's shard: other workers save chunks of the run too, and each save that
# collides reads the run again, so a shard's items are saved every 2 s (a 100-item shard of a fast target: once)
CANCEL_POLL_SECONDS = 0.25
RECORD_ATTEMPTS = 100  # saves in a row that collide (other workers record shards of the run too) before giving up


def log(message: str) -> None:
    """A timestamped line in the worker's log (with the CPU seconds the process used so far)."""
    print(f"{datetime.now(UTC).isoformat()} [cpu {time.process_time():.3f}s] {message}", flush=True)


def jsonable(value: Any) -> Any:
    """A JSON-native copy (unknown types as strings), so a recorded event can always be saved."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def _failed_event(slot: Slot, suffix: str, error: str, code: str) -> dict[str, Any]:
    """The ``run.failed`` event that ends an item the worker errors itself (too large, or a bug of ours)."""
    return {"event_type": "run.failed", "event_id": f"{slot.run_item}:{suffix}", "correlation_id": slot.run_item,
            "parent_correlation_id": None, "timestamp_ns": time.time_ns(), "name": None,
            "data": {"error": error, "error_code": code, "attempts": slot.attempt}}  # fmt: skip


def tokens_of(events: list[dict[str, Any]]) -> int:
    """The item's token usage: its LLM calls' tokens, in either trace vocabulary (``domain.trace``)."""
    return total_tokens(events)


@dataclass(frozen=True)
class ExecutionSettings:
    """The execution part of an experiment's config."""

    concurrency: int = 8
    timeout_s: float | None = 300.0
    retries: int = 2
    backoff_s: float = 0.5

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ExecutionSettings:
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


class Dispatch:
    """One execution of a run's shards (every shard, or the one a pool worker took), from their watermarks to
    their ends or a cancel.

    ``concurrency`` worker threads each take the next position, run the target (retrying transient errors with
    backoff), score the output and hand the finished item to this thread, which records chunks, times out items
    past their deadline (a replacement thread keeps the concurrency) and watches for a cancel. At most ``window``
    items are in flight or waiting to be recorded. Dispatch never waits on recording. Only ``limit`` threads take
    items: ``concurrency`` until the tuner (``worker.tuning``) finds that fewer finish them as fast.

    ``shared``: other workers record other shards of the run at the same time (the worker pool), so a save that
    collides is normal: the run is read again and the save tried again at once.
    """

    def __init__(self, app: EvalsApplication, scoring: ScorerRuntime, run: Run, target: Target,
                 items: Items | Sequence[Item], chunk_items: int = CHUNK_ITEMS,
                 owned: Callable[[], bool] = lambda: True, shards: Sequence[int] | None = None,
                 shared: bool = False) -> None:  # fmt: skip
        self.app, self.scoring, self.run, self.target = app, scoring, run, target
        self.items: Items = ListItems(items) if isinstance(items, Sequence) else items
        self.owned = owned  # whether this worker still holds the run's lock (worker.locks.RunLock.check)
        self.shared = shared
        self.lost = False  # another worker took the run over: this one stopped, and leaves the run to it
        self.chunk_items = chunk_items
        self.settings = ExecutionSettings.from_config(run.spec.get("config", {}))
        self.lock = threading.Condition()
        wanted = range(run.n_shards) if shards is None else shards
        self.marks = {s: run.mark(s) for s in wanted}  # each shard's watermark: what is below it is recorded
        self.open = [s for s in wanted if self.marks[s] < run.shard_bounds(s)[1]]  # not wholly recorded, in order
        self.order = Positions([(self.marks[s], run.shard_bounds(s)[1]) for s in self.open])  # to execute
        self.taken = 0  # how many of ``order`` were dispatched
        self.fed = 0  # how many of ``order`` have their item read (``_feed``): items are read a window ahead
        self.in_flight = 0  # dispatched and neither recorded nor dropped
        self.window = max(chunk_items * 2, self.settings.concurrency * 4)
        self.stopped = False
        self.active: dict[int, Slot] = {}
        self.abandoned: set[int] = set()
        self.finished: queue.Queue[dict[str, Any]] = queue.Queue()
        self.wake = threading.Event()  # set when a chunk's worth is finished or the last item is: few wake-ups
        self.done: dict[int, dict[str, Any]] = {}
        self.sizes: dict[int, int] = {}  # encoded bytes of each finished record: chunks stay small enough to save
        self.collisions = 0  # saves in a row that collided
        self.secrets = usable_secrets()  # what every record is scrubbed of: read again at each save, not per record
        self.last_flush = self.last_poll = time.monotonic()
        self.tuner = Tuner(self.settings.concurrency)
        self.limit = self.tuner.limit  # how many item threads may take items (``worker.tuning``)
        self.threads = 0  # item threads that take items: started, not ended, their item not abandoned
        self.cpu = 0.0  # CPU seconds the item threads used, as each reported it with the item it handed over
        self.saves = self.recorded = 0  # saves made by this dispatch, and the items they recorded
        # when the tuner last looked; this dispatch's CPU seconds, items recorded and saves then; the periods so far
        self.tuned = (self.last_flush, 0.0, 0, 0, 0)

    def drive(self) -> Run:
        self._feed()
        self.tuned = (time.monotonic(), time.thread_time(), 0, 0, 0)
        for _ in range(min(self.limit, len(self.order))):
            self._spawn()
        try:
            while not self.lost and self.run.status == "running" and self.open:
                self._feed()
                self._collect()
                self._expire(time.monotonic())
                self._tune(time.monotonic())
                self._flush()
                self._poll_cancel()
            return self.run
        finally:
            with self.lock:
                self.stopped = True
                self.lock.notify_all()

    # -- worker threads -------------------------------------------------------------------------------

    def _spawn(self) -> None:
        with self.lock:
            self.threads += 1
        threading.Thread(target=self._work, name="item-worker", daemon=True).start()

    def _next(self, done: Slot | None = None, record: dict[str, Any] | None = None, spent: float = 0.0) -> Slot | None:
        """Hand the finished item over (``done`` and its ``record``; dropped if it timed out meanwhile: a
        replacement thread took over) with the CPU seconds the thread ``spent`` since it last came here, and take the
        next position: its slot, made and registered as active. One hold of the lock per item (a fast target's
        threads spent more time handing the lock to each other than working). None: the thread ends (nothing left,
        its item abandoned, or more threads than the limit allows).
        """
        with self.lock:
            self.cpu += spent
            if done is not None and record is not None:
                if done.position in self.abandoned:
                    return None  # timed out meanwhile (its thread no longer counts): a replacement took over
                self.active.pop(done.position, None)
                self.finished.put(record)  # unbounded: it never waits, so it may be put with the lock held
                last = self.taken >= len(self.order) and not self.active
                if last or self.finished.qsize() >= self.chunk_items:
                    self.wake.set()
            while not self.stopped and self.taken < len(self.order) and self.threads <= self.limit:
                if self.taken >= self.fed:
                    self.wake.set()  # its item is not read yet: this thread (``_feed``) reads it
                elif self.in_flight < self.window:
                    position = self.order[self.taken]
                    self.taken += 1
                    if self._recorded(position):
                        continue  # another worker recorded it meanwhile (a redelivered shard, a lost lock)
                    self.in_flight += 1
                    slot = self._slot(position, self.items.get(position // self.run.repetitions))
                    self.active[position] = slot
                    return slot
                self.lock.wait(0.1)
            self.threads -= 1  # the limit fell below the threads (the tuner starts new ones if it rises), or the end
            return None

    def _feed(self) -> None:
        """Read the items of the next ``window`` positions to dispatch (this thread owns the store's connection)
        and forget those of the positions already dispatched: the items held stay within a window and a chunk."""
        with self.lock:
            taken = self.taken
        end = min(taken + self.window, len(self.order))
        fed = max(self.fed, taken)
        if fed >= end:
            return
        held = -1  # the end of the chunk holding the last item read
        for i in range(fed, end):
            index = self.order[i] // self.run.repetitions
            if index >= held:
                held = self.items.ensure(index)
        if taken < len(self.order):
            self.items.drop_below(self.order[taken] // self.run.repetitions)
        with self.lock:
            self.fed = end
            self.lock.notify_all()

    def _recorded(self, position: int) -> bool:
        """Whether the position is recorded: by another worker, for one this worker did not record yet."""
        return position < self.marks.get(self.run.shard_of(position), 0)

    def _release(self, n: int) -> None:
        """``n`` items left the window (recorded, or dropped because another worker recorded them)."""
        if n:
            with self.lock:
                self.in_flight -= n
                self.lock.notify_all()

    def _work(self) -> None:
        mark = time.thread_time()
        slot = self._next()
        while slot is not None:
            record = self._record_of(slot)
            now = time.thread_time()
            slot = self._next(slot, record, now - mark)
            mark = now

    def _record_of(self, slot: Slot) -> dict[str, Any]:
        """``_execute``'s record of the item. The target's and the scorers' errors are records already; what
        raises here is a bug of ours (in scoring's bookkeeping, redaction, sizing): the item is errored with it,
        so that it costs the item, not the run (the thread would end, its item never recorded, and the run wait
        for it forever)."""
        try:
            return self._execute(slot)
        except Exception as exc:
            return self._broken(slot, exc)

    def _broken(self, slot: Slot, exc: Exception) -> dict[str, Any]:
        slot.deadline = None
        try:
            error = str(scrub(f"InternalError: {type(exc).__name__}: {exc}"[:500]))
        except Exception:  # redaction itself failed: the error's type alone, no text that could hold a secret
            error = f"InternalError: {type(exc).__name__}"
        failed = _failed_event(slot, "internal", error, "InternalError")
        record = {
            "run_id": str(self.run.id), "run_item_id": slot.run_item, "dataset_item_id": slot.item["id"],
            "position": slot.position, "repetition": slot.repetition, "scores": [], "status": "errored",
            "output": None, "error": error, "events": [jsonable(slot.ctx.events[0]), failed],
            "started_at": slot.started_at, "duration_ms": round((time.perf_counter() - slot.t0) * 1000, 3),
            "attempts": slot.attempt, "tokens": 0,
        }  # fmt: skip
        return {**record, SIZE: len(orjson.dumps(record))}

    def _slot(self, position: int, item: Item) -> Slot:
        repetition = position % self.run.repetitions
        run_item = ids.run_item_id_str(self.run.id, item["id"], repetition)
        ctx = Context(run_item)
        ctx.event("run.started", {"dataset_item_id": item["id"], "repetition": repetition})
        return Slot(position, item, repetition, run_item, ctx, datetime.now(UTC).isoformat(), time.perf_counter())

    def _execute(self, slot: Slot) -> dict[str, Any]:
        """Call the target (retrying transient errors), then score: the item's record."""
        while True:
            if self.settings.timeout_s is not None:
                slot.deadline = time.monotonic() + self.settings.timeout_s
            try:
                output = self.target(slot.ctx, slot.item["input"])
                slot.deadline = None  # the target answered: scoring has its own limits
            except TransientError as exc:
                message = f"TransientError: {exc}"[:500]
                if slot.attempt > self.settings.retries:
                    return self._result(slot, None, message)
                slot.ctx.event("run.attempt.failed", {"attempt": slot.attempt, "error": message, "transient": True})
                time.sleep(min(30.0, self.settings.backoff_s * 2 ** (slot.attempt - 1) * (1 + random.random() / 4)))
                slot.attempt += 1
                continue
            except Exception as exc:  # the component raised: its error, with its stack trace
                return self._result(slot, None, f"{type(exc).__name__}: {exc}"[:500], stack_of(exc))
            try:
                orjson.dumps(output)
            except orjson.JSONEncodeError as exc:  # only this is a serialisation failure
                return self._result(slot, None, f"TypeError: the output is not JSON-serializable ({exc})")
            return self._result(slot, output, None)

    def _result(self, slot: Slot, output: Any, error: str | None, stack: str | None = None) -> dict[str, Any]:
        slot.deadline = None
        if error is None:
            slot.ctx.event("run.completed", {"attempts": slot.attempt})
        else:
            code = error.split(":", 1)[0]
            failed = {"error": error, "error_code": code, "attempts": slot.attempt}
            slot.ctx.event("run.failed", {**failed, "stack": stack} if stack else failed)
        events = jsonable(slot.ctx.events)
        result = {
            "output": output, "error": error, "events": events, "started_at": slot.started_at,
            "duration_ms": round((time.perf_counter() - slot.t0) * 1000, 3), "attempts": slot.attempt,
            "tokens": tokens_of(events),
        }  # fmt: skip
        scores = [] if error is not None else self._score(slot, result)  # an errored item is not scored
        record = {
            "run_id": str(self.run.id), "run_item_id": slot.run_item, "dataset_item_id": slot.item["id"],
            "position": slot.position, "repetition": slot.repetition, "scores": scores,
            "status": item_status(error, scores), **result,
        }  # fmt: skip
        record, encoded = scrub_encoded(record, self.secrets)  # the last guard: no known secret is recorded
        size = len(encoded)
        return {**record, SIZE: size} if size <= MAX_ITEM_BYTES else self._too_large(slot, record, size)

    def _too_large(self, slot: Slot, record: dict[str, Any], size: int) -> dict[str, Any]:
        """An item too big to save is errored and keeps only its start event (saves must stay small)."""
        error = f"OutputTooLarge: the item's output, trace and scores take {size:,} bytes (limit {MAX_ITEM_BYTES:,})"
        failed = _failed_event(slot, "too-large", error, "OutputTooLarge")
        small = {**record, "output": None, "error": error, "events": [record["events"][0], failed], "scores": []}
        return {**small, "status": "errored", SIZE: len(orjson.dumps(small))}

    def _score(self, slot: Slot, result: dict[str, Any]) -> list[dict[str, Any]]:
        scores = []
        for index, scorer in enumerate(self.run.spec["scorers"]):
            inp = ScorerInput(
                output=result["output"], expected_output=slot.item.get("expected_output"), input=slot.item["input"],
                config=scorer.get("config") or {}, events=result["events"],
                metadata={"run_id": str(self.run.id), "run_item_id": slot.run_item,
                          "item_metadata": slot.item.get("metadata") or {}},
            )  # fmt: skip
            outcome = self.scoring.score(scorer, inp)
            scores.append(jsonable({
                "id": ids.score_id_str(slot.run_item, index, scorer["key"]), "key": scorer["key"],
                "name": scorer["name"], "config": scorer.get("config") or {}, **outcome.as_output(),
                "errored": outcome.errored, "evidence": outcome.evidence,
            }))  # fmt: skip
        return scores

    # -- this thread: collect, time out, record, watch -----------------------------------------------

    def _collect(self) -> None:
        now = time.monotonic()
        with self.lock:
            deadlines = [s.deadline for s in self.active.values() if s.deadline is not None]
        wake = min([self.last_flush + self._flush_interval(), self.last_poll + CANCEL_POLL_SECONDS, *deadlines])
        self.wake.wait(timeout=max(0.001, wake - now))
        self.wake.clear()
        while True:
            try:
                record = self.finished.get_nowait()
            except queue.Empty:
                return
            self._finished(record)

    def _flush_interval(self) -> float:
        if self.shared:
            return SHARED_FLUSH_SECONDS  # the shard's last items are saved at once (``_flush``)
        tail = len(self.order) - self.taken <= self.settings.concurrency * TAIL_WAVES
        return TAIL_FLUSH_SECONDS if tail else FLUSH_SECONDS

    def _finished(self, record: dict[str, Any]) -> None:
        position, size = record["position"], record.pop(SIZE)
        if self._recorded(position):  # another worker recorded it meanwhile
            self._release(1)
            return
        self.sizes[position] = size
        self.done[position] = record

    def _tune(self, now: float) -> None:
        """Every ``PERIOD`` and ``PERIOD_SAVES`` saves while items are left to dispatch, tell the tuner the CPU this
        dispatch's threads used (this thread's, and what the item threads reported; not the process's: a pool
        worker runs several dispatches) and the items it recorded, and apply the limit it answers
        (``worker.tuning``): threads past it end after their item, new ones start when it rises.

        Items recorded, not finished: while the window of items in flight fills, threads finish items faster than
        they can be saved, and that is not the run's pace. A period runs from just before a save to just before a
        later one (this is called right before ``_flush``), so it holds whole saves. Periods that began before the
        first save are a warm-up, not judged; a period lasts until it holds enough items to be judged."""
        at, cpu, recorded, periods, saves = self.tuned
        if now - at < PERIOD or self.saves - saves < PERIOD_SAVES or not self.tuner.enough(self.recorded - recorded):
            return  # the period goes on until it holds enough items to judge, however long that takes
        with self.lock:
            used = self.cpu + time.thread_time()
            self.tuned = (now, used, self.recorded, periods + 1, self.saves)
            if self.taken >= len(self.order) or not saves:
                return  # the last items are in flight (no thread takes another), or the warm-up
            cores, n = (used - cpu) / (now - at), self.recorded - recorded
            rate = n / (now - at)
            before, self.limit = self.limit, self.tuner.step(cores, rate, n)
            start = max(0, self.limit - self.threads)
        for _ in range(start):
            self._spawn()
        if self.limit != before:
            log(f"item threads: {before} -> {self.limit} take items ({cores:.2f} cores of CPU, {rate:,.0f} items/s)")

    def _expire(self, now: float) -> None:
        with self.lock:
            late = [s for s in self.active.values() if s.deadline is not None and now >= s.deadline]
            for slot in late:
                self.abandoned.add(slot.position)
                del self.active[slot.position]
                self.threads -= 1  # its thread stays in the call: it no longer counts
        for slot in late:  # the call keeps its thread; a new thread keeps the concurrency
            error = f"TimeoutError: no result within {self.settings.timeout_s} s"
            self._finished(self._result(slot, None, error))
            self._spawn()

    def _flush(self) -> None:
        """Record each open shard's finished items from its watermark on, if they are many or old enough: one
        save of at most ``chunk_items`` items and ``MAX_CHUNK_BYTES``, a chunk per shard."""
        pieces: list[tuple[int, int]] = []
        n = size = 0
        ends = 0  # shards whose last items are in this save
        by_bytes = False  # a save's worth of bytes is
        frontier = self.order[self.taken - 1] if self.taken else -1  # the last position dispatched
        for shard in self.open:
            start = end = self.marks[shard]
            if n >= self.chunk_items or by_bytes or start > frontier:
                break  # a save's worth, or the shards after have nothing finished yet
            shard_end = self.run.shard_bounds(shard)[1]
            while end < shard_end and end in self.done and n < self.chunk_items:
                if n and size + self.sizes[end] > MAX_CHUNK_BYTES:
                    by_bytes = True  # the next item goes in the next save
                    break
                size += self.sizes[end]
                n, end = n + 1, end + 1
            if end > start:
                pieces.append((start, end))
                ends += end == shard_end
        # save now: a save's worth, or the last items of this dispatch (else every FLUSH_SECONDS, several shards'
        # chunks per save: a shard's end alone does not make a save, so a fast run's saves stay few and big)
        full = by_bytes or n >= self.chunk_items or ends == len(self.open)
        due = time.monotonic() - self.last_flush >= self._flush_interval()
        if not pieces:
            if due:  # nothing to save yet (the items at the watermarks still run): wait for them, not spin
                self.last_flush = time.monotonic()
            return
        if not (full or due):
            return
        records = [[self.done.pop(position) for position in range(start, end)] for start, end in pieces]
        self.last_flush = time.monotonic()
        self.secrets = usable_secrets()
        try:
            self.app.record_chunks(self.run, records)  # the last items complete the run in the same save
        except Conflict:
            for piece in records:  # what the other did not record is recorded next time
                self.done.update((record["position"], record) for record in piece)
            self._collided()
            return
        self.collisions = 0
        self.saves, self.recorded = self.saves + 1, self.recorded + n
        completed = set()
        for start, end in pieces:
            for position in range(start, end):
                self.sizes.pop(position, None)
            shard = self.run.shard_of(start)
            self.marks[shard] = end
            if end == self.run.shard_bounds(shard)[1]:
                completed.add(shard)
        self._release(n)
        if completed:
            self.open = [shard for shard in self.open if shard not in completed]

    def _collided(self) -> None:
        """Someone else wrote to the run: a cancel (or the end) stops us, what another worker recorded is dropped,
        and the rest is saved again at once (our copy of the run may hold chunks that failed to save)."""
        self.collisions += 1
        if self.collisions > RECORD_ATTEMPTS:
            raise Conflict(f"run {self.run.id}: {RECORD_ATTEMPTS} saves in a row collided with other writers")
        if self.shared:
            time.sleep(random.random() * 0.01 * min(self.collisions, 10))  # workers saving at once: spread out
        self._changed(self.app.get(Run, self.run.id, "run"))
        self.last_flush = 0.0

    def _changed(self, fresh: Run) -> None:
        """The run changed under us. Ended (cancelled, finished elsewhere): stop dispatching at once. Still running:
        another worker recorded chunks. If it owns the run now, this worker stops and leaves the run to it (never
        failing it); if this worker still owns it (a pool worker always does), the other recorded other shards, or
        was a worker that lost the lock: go on (what it recorded is not recorded again)."""
        self.run = fresh  # our copy may hold a chunk that failed to save
        if fresh.status != "running":
            return
        if not self.owned():
            self._stop_lost()
            return
        self.marks.update((shard, fresh.mark(shard)) for shard in self.open)
        dropped = [position for position in self.done if self._recorded(position)]
        if dropped:
            log(f"run {fresh.id}: another worker recorded {len(dropped)} of the items this one executed")
        for position in dropped:
            del self.done[position]
            self.sizes.pop(position, None)
        self._release(len(dropped))
        self.open = [shard for shard in self.open if self.marks[shard] < fresh.shard_bounds(shard)[1]]

    def _stop_lost(self) -> None:
        log(f"run {self.run.id}: another worker owns the run now; this one stops and records nothing more")
        self.lost = True

    def _poll_cancel(self) -> None:
        now = time.monotonic()
        if now - self.last_poll < CANCEL_POLL_SECONDS:
            return
        self.last_poll = now
        if not self.owned():  # the lock was lost (its connection dropped) and another worker took it
            self._stop_lost()
            return
        if self.shared:  # other workers change the run all the time: only its end matters (read cheaply)
            if run_ended(self.app, self.run.id):
                self._changed(self.app.get(Run, self.run.id, "run"))
            return
        last = self.app.recorder.select_events(self.run.id, desc=True, limit=1)  # one row, not the whole run
        if last and last[0].originator_version != self.run.version:
            self._changed(self.app.get(Run, self.run.id, "run"))


def run_ended(app: EvalsApplication, run_id: UUID) -> bool:
    """Whether the run ended, read from its last event alone."""
    last = app.recorder.select_events(run_id, desc=True, limit=1)
    return bool(last) and last[0].topic.rsplit(".", 1)[-1].lower() in ("completed", "failed", "cancelled")
