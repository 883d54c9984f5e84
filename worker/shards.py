"""Execute one shard of a run: the worker pool's unit of work (``worker.pool``).

A run is split into shards when it starts (``Run.plan_shards``); shard ``s`` holds positions
``[s * shard_size, (s + 1) * shard_size)``. ``execute_shard`` runs a shard's items with the code the in-process
executor runs on all of them (``worker.dispatch.Dispatch``: threads under the run's concurrency, retries,
timeouts, scoring) and records them in chunks from the shard's watermark, as they finish.

Exactly once through the store, whatever the delivery: a shard already recorded is not executed again, and a
redelivered one starts at its watermark; two executions of one shard (a redelivery racing a slow worker) both run,
but each item is recorded once (a chunk's id is its start position, and the run's version collides); nothing is
recorded after the run ended (a cancel changes the run's version, so a save started before it fails whole).
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections import OrderedDict
from concurrent.futures import Future
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services, dropped
from agnt5_evals.adapters.bundles import code_path
from agnt5_evals.adapters.targets import Target, load_target
from agnt5_evals.domain.errors import Conflict
from agnt5_evals.domain.model import DatasetVersion, Deployment
from agnt5_evals.domain.runs import Run
from agnt5_evals.worker.dispatch import Dispatch
from agnt5_evals.worker.items import SharedChunks
from agnt5_evals.worker.scoring import ScorerRuntime

KEPT_RUNS = 8  # runs whose target and last chunks of items a worker process keeps between shards
_kept: OrderedDict[UUID, Future[tuple[Target, SharedChunks]]] = OrderedDict()
_kept_lock = threading.Lock()


def execute_shard(svc: Services, run_id: UUID, shard: int) -> str:
    """Execute and record one shard of a sharded run; what happened: ``recorded`` (with timings), ``already
    recorded``, the run's status when it ended before the shard was recorded, or ``failed``."""
    app = svc.app
    run = app.get(Run, run_id, "run")
    if run.status != "running":
        return str(run.status)
    if not run.shard_size or not 0 <= shard < run.n_shards:
        raise ValueError(f"run {run_id} has no shard {shard}")
    if run.is_complete(shard):
        return "already recorded"
    scoring = ScorerRuntime(
        lambda deployment_id: app.get(Deployment, deployment_id, "deployment"),
        lambda deployment: code_path(app, svc.settings.home, deployment),
    )
    try:
        t0 = time.perf_counter()
        target, chunks = _prepared(svc, run)
        items = chunks.items()
        t1 = time.perf_counter()
        try:
            run = Dispatch(app, scoring, run, target, items, shards=[shard], shared=True).drive()
        finally:
            chunks.learn(items)
        if not run.is_complete(shard):
            return str(run.status)  # it ended first (a cancel): the rest of the shard is not recorded
        return f"recorded (load {t1 - t0:.3f} s, items and saves {time.perf_counter() - t1:.3f} s)"
    except Exception as exc:  # the target cannot be loaded, a scorer's setup failed: the run fails, as in one process
        if dropped(exc):  # the store is unreachable: not the run's fault; the caller's job fails and is retried
            raise
        traceback.print_exc()
        with contextlib.suppress(Conflict):  # it ended meanwhile
            app.fail_run(run_id, f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    finally:
        scoring.close()


def _prepared(svc: Services, run: Run) -> tuple[Target, SharedChunks]:
    """The run's target and its dataset version's chunks (``SharedChunks``), kept for the run's next shards in
    this process; made once, by the first of the run's shards to ask (the others, at the same time, wait for it)."""
    with _kept_lock:
        pending = _kept.get(run.id)
        maker = pending is None
        if pending is None:
            pending = _kept[run.id] = Future()
            while len(_kept) > KEPT_RUNS:
                evicted = _kept.popitem(last=False)[1]
                if evicted.done() and evicted.exception() is None:
                    with contextlib.suppress(Exception):
                        getattr(evicted.result()[0], "close", lambda: None)()  # an HTTP target's connections
        else:
            _kept.move_to_end(run.id)
    if not maker:
        return pending.result()
    try:
        target = load_target(svc, run.spec)
        version = svc.app.get(DatasetVersion, run.dataset_version_id, "dataset version")
        kept = (target, SharedChunks.of(svc.app, version))
    except BaseException as exc:  # not kept: the next shard tries again
        with _kept_lock:
            if _kept.get(run.id) is pending:
                del _kept[run.id]
        pending.set_exception(exc)
        raise
    pending.set_result(kept)
    return kept
