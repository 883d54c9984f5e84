"""Execute one shard of a sharded run: the worker pool's unit of work (``worker.pool``).

A run for the pool is split into shards when it starts (``Run.plan_shards``); shard ``s`` holds positions
``[s * shard_size, (s + 1) * shard_size)``. ``execute_shard`` runs a shard's items with the same item machinery as
a whole run (``worker.dispatch``: threads under the run's concurrency, retries, timeouts, scoring) and records the
shard in one atomic save (``EvalsApplication.record_shard``).

Exactly once through the store, whatever the delivery: a shard already recorded is not executed again; two
executions of one shard (a redelivery racing a slow worker) both run, but only one records (the shard's chunk id
and the run's version collide); nothing is recorded after the run ended (a cancel changes the run's version, so a
save started before it fails whole).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import traceback
from collections import OrderedDict
from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.bundles import code_path
from agnt5_evals.adapters.targets import Target, load_target
from agnt5_evals.domain.application import EvalsApplication
from agnt5_evals.domain.errors import Conflict
from agnt5_evals.domain.model import DatasetVersion, Deployment
from agnt5_evals.domain.runs import TERMINAL, Run
from agnt5_evals.worker.dispatch import CANCEL_POLL_SECONDS, Dispatch, log
from agnt5_evals.worker.scoring import ScorerRuntime

MAX_SHARD_BYTES = 16 * 1024 * 1024  # a shard is one save; PostgreSQL saves of tens of MiB hang (measured: 20 MB
# saved in 0.8 s, 70 MB never returned), so a bigger shard fails its run with a message instead
RECORD_ATTEMPTS = 100  # saves that collide with other workers' shards of the same run before giving up
KEPT_RUNS = 8  # runs whose target and items a worker process keeps between shards
_kept: OrderedDict[UUID, tuple[Target, list[dict[str, Any]]]] = OrderedDict()
_kept_lock = threading.Lock()


class ShardDispatch(Dispatch):
    """``Dispatch`` over one shard's positions; it records nothing itself and stops when the run ends."""

    def __init__(self, app: EvalsApplication, scoring: ScorerRuntime, run: Run, target: Target,
                 items: list[dict[str, Any]], shard: int) -> None:  # fmt: skip
        start, end = run.shard_bounds(shard)
        super().__init__(app, scoring, run, target, items, chunk_items=end - start)
        self.start, self.end = start, end
        self.next_position = self.watermark = start
        self.window = end - start

    def execute(self) -> list[dict[str, Any]] | None:
        """The shard's records in position order, or None when the run ended meanwhile (nothing to record)."""
        n = self.end - self.start
        for _ in range(min(self.settings.concurrency, n)):
            self._spawn()
        try:
            while len(self.done) < n:
                self.last_flush = time.monotonic()  # nothing is flushed here: wait for items, deadlines, a cancel
                self._collect()
                self._expire(time.monotonic())
                if self._ended():
                    return None
            return [self.done[position] for position in range(self.start, self.end)]
        finally:
            with self.lock:
                self.stopped = True
                self.lock.notify_all()

    def _ended(self) -> bool:
        """Whether the run ended (a cancel), read from its last event at most every ``CANCEL_POLL_SECONDS``."""
        now = time.monotonic()
        if now - self.last_poll < CANCEL_POLL_SECONDS:
            return False
        self.last_poll = now
        return run_ended(self.app, self.run.id)


def dropped(exc: Exception) -> bool:
    """Whether ``exc`` is a lost or unreachable database connection (the store's library's error or psycopg's)."""
    import sys

    from eventsourcing.persistence import InterfaceError, OperationalError

    psycopg = sys.modules.get("psycopg")  # imported only with PostgreSQL
    raw = () if psycopg is None else (psycopg.OperationalError, psycopg.InterfaceError)
    return isinstance(exc, (OperationalError, InterfaceError, *raw))


def run_ended(app: EvalsApplication, run_id: UUID) -> bool:
    last = app.recorder.select_events(run_id, desc=True, limit=1)
    return bool(last) and last[0].topic.rsplit(".", 1)[-1].lower() in ("completed", "failed", "cancelled")


def execute_shard(svc: Services, run_id: UUID, shard: int) -> str:
    """Execute and record one shard of a sharded run; what happened: ``recorded``, ``already recorded``, the
    run's status when it is not running, or ``failed``."""
    app = svc.app
    run = app.get(Run, run_id, "run")
    if run.status != "running":
        return str(run.status)
    if not run.shard_size or not 0 <= shard < run.n_shards:
        raise ValueError(f"run {run_id} has no shard {shard}")
    if shard in run.shards:
        return "already recorded"
    scoring = ScorerRuntime(
        lambda deployment_id: app.get(Deployment, deployment_id, "deployment"),
        lambda deployment: code_path(app, svc.settings.home, deployment),
    )
    try:
        t0 = time.perf_counter()
        target, items = _prepared(svc, run)
        t1 = time.perf_counter()
        dispatch = ShardDispatch(app, scoring, run, target, items, shard)
        records = dispatch.execute()
        if records is None:
            return app.get(Run, run_id, "run").status
        size = sum(dispatch.sizes.values())
        if size > MAX_SHARD_BYTES:
            reason = (f"shard {shard} holds {size / 2**20:.1f} MiB of results, more than one save takes "
                      f"({MAX_SHARD_BYTES / 2**20:.0f} MiB): lower the run's shard_size")  # fmt: skip
            with contextlib.suppress(Conflict):
                app.fail_run(run_id, reason)
            return "failed"
        t2 = time.perf_counter()
        outcome = _record(app, run, shard, records)
        return f"{outcome} (load {t1 - t0:.3f} s, items {t2 - t1:.3f} s, save {time.perf_counter() - t2:.3f} s)"
    except Exception as exc:  # the target cannot be loaded, a scorer's setup failed: the run fails, as in one process
        if dropped(exc):  # the store is unreachable: not the run's fault; the caller's job fails and is retried
            raise
        traceback.print_exc()
        with contextlib.suppress(Conflict):  # it ended meanwhile
            app.fail_run(run_id, f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    finally:
        scoring.close()


def _record(app: EvalsApplication, run: Run, shard: int, records: list[dict[str, Any]]) -> str:
    for attempt in range(RECORD_ATTEMPTS):
        try:
            app.record_shard(run, shard, records)
            return "recorded"
        except Conflict:  # another worker recorded a shard of this run (or this one), or the run ended
            run = app.get(Run, run.id, "run")
            if run.status in TERMINAL:
                log(f"run {run.id}: shard {shard} is not recorded, the run is {run.status}")
                return str(run.status)
            if shard in run.shards:
                return "already recorded"
            time.sleep(random.random() * 0.01 * min(attempt + 1, 10))
    raise Conflict(f"run {run.id}: shard {shard} could not be recorded after {RECORD_ATTEMPTS} attempts")


def _prepared(svc: Services, run: Run) -> tuple[Target, list[dict[str, Any]]]:
    """The run's target and its dataset version's items, kept for the run's next shards in this process."""
    with _kept_lock:
        kept = _kept.get(run.id)
        if kept is not None:
            _kept.move_to_end(run.id)
            return kept
    target = load_target(svc, run.spec)
    version = svc.app.get(DatasetVersion, run.dataset_version_id, "dataset version")
    kept = (target, svc.app.version_items(version))
    with _kept_lock:
        _kept[run.id] = kept
        while len(_kept) > KEPT_RUNS:
            evicted, _ = _kept.popitem(last=False)[1]
            with contextlib.suppress(Exception):
                getattr(evicted, "close", lambda: None)()  # an HTTP target's connections
    return kept
