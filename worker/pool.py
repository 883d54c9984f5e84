"""The worker pool: with ``AGNT5_EXECUTOR=queue`` (PostgreSQL), runs execute as procrastinate jobs, one per shard,
on any number of ``agnt5 worker`` processes and machines that share the store.

How a run flows:
1. ``start_run`` records the run split into shards (``Run.plan_shards``) and queues its first ``window`` shards
   (``Queue.fill``): jobs of task ``agnt5.shard`` with arguments ``{run_id, shard}``, the run's ``priority``, and a
   queueing lock per shard, so a shard is never queued twice.
2. A worker takes a job, executes the shard (``worker.shards.execute_shard``: the code a run on one machine runs
   on all of its shards) and records its items in chunks as they finish; then it refills the run's window: at
   most ``window`` shards of one run are queued or running at once, so concurrent runs share the workers (new
   shards join the queue's tail).
3. The save of the run's last items completes the run.

Delivery is at least once; the store makes it exactly once (``worker.shards``). Recovery: each worker beats every
``heartbeat_s``; the janitor (a periodic job that one worker takes every 2 s) puts the jobs of workers silent for
``stalled_s`` back in the queue, refills the window of every running run (a chain broken by a crash), and drops the
queued jobs of ended runs. Cancel: the run records ``Cancelled`` (the source of truth: a shard started before it
cannot record after it), its queued jobs are cancelled and its running ones asked to abort.

The schema (the store's tables, procrastinate's and ``agnt5_workers``) is created by ``agnt5 db migrate`` only;
workers refuse to start before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services, Settings, dropped
from agnt5_evals.domain.errors import Conflict, Invalid, Unavailable
from agnt5_evals.domain.runs import Run
from agnt5_evals.domain.tenancy import project_scope
from agnt5_evals.worker.dispatch import log
from agnt5_evals.worker.locks import is_owned
from agnt5_evals.worker.rescore import PREFIX
from agnt5_evals.worker.shards import execute_shard
from agnt5_evals.worker.worker import execute_owned

QUEUE = "agnt5-shards"
JANITOR_QUEUE = "agnt5-janitor"
SHARD_TASK = "agnt5.shard"
JANITOR_PRIORITY = 1000  # above any run's (config priority: -100 to 100): recovery is never queued behind work
MAX_ATTEMPTS = 3  # a shard whose worker died this many times fails its run (it may be what kills them)
RESCORE_TASK = "agnt5.rescore"  # a rescore is one job: it scores recorded outputs, executes no target
JANITOR_TASK = "agnt5.janitor"
WORKERS_TABLE = "agnt5_workers"
SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
T = TypeVar("T")
NOT_MIGRATED = "the database is not migrated: run `agnt5 db migrate` first"


def _env_number(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise Invalid(f"must be a number, got {raw!r}", field=name) from None
    if not low <= value <= high:
        raise Invalid(f"must be from {low:g} to {high:g}, got {raw!r}", field=name)
    return value


@dataclass(frozen=True)
class PoolSettings:
    """How fast a dead worker is noticed, and how many shards of one run may be queued or running at once."""

    heartbeat_s: float = 5.0
    stalled_s: float = 15.0  # a worker silent this long is dead: its shards are queued again
    window: int = 4

    @classmethod
    def from_env(cls) -> PoolSettings:
        heartbeat = _env_number("AGNT5_WORKER_HEARTBEAT_S", 5.0, 0.2, 300)
        stalled = _env_number("AGNT5_WORKER_STALLED_S", 15.0, 1, 3600)
        if stalled < 2 * heartbeat:
            raise Invalid(
                f"must be at least twice AGNT5_WORKER_HEARTBEAT_S ({heartbeat:g}), got {stalled:g}",
                field="AGNT5_WORKER_STALLED_S",
            )
        return cls(heartbeat, stalled, int(_env_number("AGNT5_SHARD_WINDOW", 4, 1, 1000)))


def conninfo(settings: Settings) -> str:
    """A libpq connection string for the store's database, with the store's schema first on the search path (the
    queue's tables live beside the event tables)."""
    import psycopg.conninfo

    schema = settings.pg_schema
    if not SCHEMA_NAME.match(schema):
        raise Invalid(f"the worker pool needs a plain schema name (letters, digits, _), got {schema!r}",
                      field="AGNT5_DATABASE_URL")  # fmt: skip
    return psycopg.conninfo.make_conninfo(**settings.pg_connect_kwargs(), options=f"-c search_path={schema}")


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"agnt5-pool:{name}".encode()).digest()[:8], "big", signed=True)


# -- the schema ------------------------------------------------------------------------------------------------


def _connect(settings: Settings) -> Any:
    import psycopg

    try:
        return psycopg.connect(conninfo(settings), autocommit=True, application_name="agnt5-pool")
    except psycopg.OperationalError as exc:
        raise Unavailable(f"PostgreSQL cannot be reached: {str(exc).strip().splitlines()[0]}") from None


def is_migrated(settings: Settings) -> bool:
    with _connect(settings) as conn:
        row = conn.execute(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AND to_regclass(%s) IS NOT NULL", (WORKERS_TABLE,)
        ).fetchone()
    return bool(row and row[0])


def check_migrated(settings: Settings) -> None:
    if not settings.database_url:
        raise Invalid("the worker pool needs AGNT5_DATABASE_URL=postgresql://...", field="AGNT5_DATABASE_URL")
    if not is_migrated(settings):
        raise Unavailable(NOT_MIGRATED)


def migrate(settings: Settings) -> list[str]:
    """Create what is missing: the store's event tables and read model, and on PostgreSQL the queue's tables and
    ``agnt5_workers``. One process at a time (an advisory lock); safe to run again. What it created, by name."""
    created: list[str] = []
    with Services(settings) as svc:  # creates the event tables (one DDL step, never racing workers)
        svc.catch_up()  # and the read model
    created.append("event store and read model")
    if not settings.database_url:
        return created
    from procrastinate.schema import SchemaManager

    with _connect(settings) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_lock_key("migrate"),))
        try:
            if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() == (None,):
                conn.execute(SchemaManager.get_schema())
                created.append("queue (procrastinate)")
            if conn.execute("SELECT to_regclass(%s)", (WORKERS_TABLE,)).fetchone() == (None,):
                conn.execute(
                    f"CREATE TABLE {WORKERS_TABLE} (id bigserial PRIMARY KEY, name text NOT NULL, host text NOT NULL,"
                    " pid integer NOT NULL, concurrency integer NOT NULL, started_at timestamptz NOT NULL DEFAULT"
                    " now(), last_heartbeat timestamptz NOT NULL DEFAULT now(), pool_worker_id bigint,"
                    " stopped_at timestamptz)"
                )
                created.append(WORKERS_TABLE)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_key("migrate"),))
    return created


# -- the queue, as the CLI, the server and the workers see it -------------------------------------------------


def _reconnecting(method: Callable[..., T]) -> Callable[..., T]:
    """A ``Queue`` method that, when its connection was lost (a server restart, an idle cut), reconnects and runs
    again once: what it did is all undone with the connection (the advisory lock too) or was committed whole."""

    @functools.wraps(method)
    def run(self: Queue, *args: Any, **kwargs: Any) -> T:
        import psycopg

        try:
            return method(self, *args, **kwargs)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            with self.lock:
                with contextlib.suppress(Exception):
                    self.conn.close()
                self.conn = _connect(self.settings)
            return method(self, *args, **kwargs)

    return run


class Queue:
    """Queue a run's shards and cancel them: one connection, used by one thread at a time."""

    def __init__(self, settings: Settings, pool: PoolSettings | None = None) -> None:
        import procrastinate

        self.settings = settings
        self.pool = pool or PoolSettings.from_env()
        self.conn = _connect(settings)
        self.procrastinate = procrastinate.App(
            connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(settings), min_size=1, max_size=1)
        )
        self.procrastinate.open()
        self.lock = threading.Lock()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.procrastinate.close()
        with contextlib.suppress(Exception):
            self.conn.close()

    def live_shards(self, run_id: UUID) -> set[int]:
        rows = self.conn.execute(
            "SELECT (args->>'shard')::int FROM procrastinate_jobs WHERE task_name = %s AND queue_name = %s"
            " AND status IN ('todo', 'doing') AND args->>'run_id' = %s",
            (SHARD_TASK, QUEUE, str(run_id)),
        ).fetchall()
        return {int(row[0]) for row in rows}

    @_reconnecting
    def pending(self) -> int:
        """Shards and rescores queued or running, of every run."""
        with self.lock:
            row = self.conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name IN (%s, %s) AND status IN ('todo', 'doing')",
                (SHARD_TASK, RESCORE_TASK),
            ).fetchone()
        return int(row[0]) if row else 0

    @_reconnecting
    def live_workers(self) -> int:
        """Workers of the pool that beat within the stalled threshold and are not stopping."""
        with self.lock:
            row = self.conn.execute(
                f"SELECT count(*) FROM {WORKERS_TABLE} WHERE stopped_at IS NULL"
                " AND last_heartbeat > now() - make_interval(secs => %s)",
                (self.pool.stalled_s,),
            ).fetchone()
        return int(row[0]) if row else 0

    @_reconnecting
    def fill(self, run: Run, ending: int | None = None) -> list[int]:
        """Queue the run's next shards (lowest first) that are neither recorded nor queued nor running, up to the
        window; the shards queued. One process at a time per run (an advisory lock), so the window holds.
        ``ending``: the shard whose job calls this as it ends (its job still counts as running until then)."""
        from procrastinate.exceptions import AlreadyEnqueued

        if run.status != "running" or not run.shard_size or not run.pooled:
            return []
        recorded = set(run.shards)
        priority = int(run.spec.get("config", {}).get("priority", 0))
        key = _lock_key(f"run:{run.id}")
        queued = []
        with self.lock:
            self.conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                live = self.live_shards(run.id) - {ending}
                room = self.pool.window - len(live)
                for shard in range(run.n_shards):
                    if room <= 0:
                        break
                    if shard in recorded or shard in live:
                        continue
                    deferrer = self.procrastinate.configure_task(
                        SHARD_TASK, queue=QUEUE, queueing_lock=f"{run.id}:{shard}", priority=priority
                    )
                    with contextlib.suppress(AlreadyEnqueued):
                        deferrer.defer(run_id=str(run.id), shard=shard)
                        queued.append(shard)
                    room -= 1
            finally:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return queued

    @_reconnecting
    def enqueue_rescore(self, rescore_id: UUID) -> bool:
        """Queue a rescore unless it is queued or running already; whether it was queued."""
        from procrastinate.exceptions import AlreadyEnqueued

        with self.lock:
            live = self.conn.execute(
                "SELECT 1 FROM procrastinate_jobs WHERE task_name = %s AND status IN ('todo', 'doing')"
                " AND args->>'rescore_id' = %s",
                (RESCORE_TASK, str(rescore_id)),
            ).fetchone()
            if live is not None:
                return False
            deferrer = self.procrastinate.configure_task(
                RESCORE_TASK, queue=QUEUE, queueing_lock=f"rescore:{rescore_id}"
            )
            try:
                deferrer.defer(rescore_id=str(rescore_id))
            except AlreadyEnqueued:
                return False
            return True

    @_reconnecting
    def cancel(self, run_id: UUID) -> int:
        """Cancel the run's queued shards and ask its running ones to abort; how many jobs were touched."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT id FROM procrastinate_jobs WHERE task_name = %s AND status IN ('todo', 'doing')"
                " AND args->>'run_id' = %s",
                (SHARD_TASK, str(run_id)),
            ).fetchall()
            manager = self.procrastinate.job_manager
            return sum(bool(manager.cancel_job_by_id(int(row[0]), abort=True)) for row in rows)


_queues: dict[Settings, Queue] = {}
_queues_lock = threading.Lock()


def queue_for(settings: Settings) -> Queue:
    """This process's queue for ``settings`` (opened once; the API server shares it between requests)."""
    with _queues_lock:
        queue = _queues.get(settings)
        if queue is None:
            queue = _queues[settings] = Queue(settings)
        return queue


def close_queues() -> None:
    with _queues_lock:
        for queue in _queues.values():
            queue.close()
        _queues.clear()


def enqueue(svc: Services, run_id: UUID) -> list[int]:
    """Queue a newly started run's first shards; with no live worker in the pool, start one on this machine
    (``agnt5 worker --burst``: it stops once the queue is empty), so a run never waits for nobody."""
    run = svc.app.get(Run, run_id, "run")
    if run.total == 0:  # nothing to execute (a version published before empty ones were refused)
        svc.app.complete_run(run_id)
        return []
    queued = queue_for(svc.settings).fill(run)
    ensure_worker(svc.settings)
    return queued


_launched: list[subprocess.Popen[bytes]] = []
_launched_at: dict[int, float] = {}
_launched_lock = threading.Lock()
_live_seen: dict[Settings, float] = {}  # when a live worker was last seen (a poll asks at most once a second)
STARTING_S = 30.0  # a worker started here counts as on its way for this long, until it beats


def enqueue_rescore(svc: Services, rescore_id: UUID) -> None:
    """Queue a newly started rescore (one job); with no live worker, start one on this machine."""
    queue_for(svc.settings).enqueue_rescore(rescore_id)
    ensure_worker(svc.settings)


def ensure_worker(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Start a burst worker on this machine unless the pool has a live worker that is not stopping (or one this
    process started is still on its way); the started process, or None."""
    with _launched_lock:
        now = time.monotonic()
        _launched[:] = [proc for proc in _launched if proc.poll() is None]
        if any(now - _launched_at.get(proc.pid, 0.0) < STARTING_S for proc in _launched):
            return None
        if now - _live_seen.get(settings, -1e9) < 1.0:
            return None
        if queue_for(settings).live_workers():
            _live_seen[settings] = now
            return None
        logs = settings.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "AGNT5_HOME": str(settings.home), "AGNT5_DATABASE_URL": settings.database_url,
               "AGNT5_EXECUTOR": "queue"}  # fmt: skip
        with (logs / "pool-worker.log").open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "agnt5_evals.cli.main", "worker", "--burst"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, env=env, cwd=os.getcwd(),
            )  # fmt: skip
        _launched.append(proc)
        _launched_at[proc.pid] = now
        return proc


def cancel(svc: Services, run_id: UUID) -> None:
    """After a run's cancel is recorded: its jobs leave the queue (a running shard stops within 0.25 s anyway)."""
    queue_for(svc.settings).cancel(run_id)


def live_workers(settings: Settings) -> list[dict[str, Any]]:
    """The pool's workers that beat within the stalled threshold, each with the shards it is running."""
    stalled = PoolSettings.from_env().stalled_s
    with _connect(settings) as conn:
        workers = conn.execute(
            f"SELECT id, name, host, pid, concurrency, started_at, last_heartbeat, pool_worker_id,"
            f" extract(epoch FROM now() - last_heartbeat) FROM {WORKERS_TABLE}"
            " WHERE stopped_at IS NULL AND last_heartbeat > now() - make_interval(secs => %s) ORDER BY id",
            (stalled,),
        ).fetchall()
        jobs = conn.execute(
            "SELECT worker_id, args->>'run_id', (args->>'shard')::int FROM procrastinate_jobs"
            " WHERE task_name = %s AND status = 'doing' ORDER BY id",
            (SHARD_TASK,),
        ).fetchall()
    shards: dict[int, list[dict[str, Any]]] = {}
    for worker_id, run_id, shard in jobs:
        shards.setdefault(worker_id, []).append({"run_id": run_id, "shard": shard})
    keys = ("id", "name", "host", "pid", "concurrency", "started_at", "last_heartbeat")
    return [
        {
            **dict(zip(keys, (*row[:5], row[5].isoformat(), row[6].isoformat()), strict=True)),
            "heartbeat_age_s": round(float(row[8]), 3),
            "shards": shards.get(row[7], []) if row[7] else [],
        }
        for row in workers
    ]


# -- a worker process -------------------------------------------------------------------------------------------


class PoolWorker:
    """One ``agnt5 worker`` process: procrastinate's worker loop, shards executed in threads of its own."""

    def __init__(self, settings: Settings, concurrency: int, name: str, pool: PoolSettings | None = None) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self.name = name
        self.pool = pool or PoolSettings.from_env()
        self.threads = concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="shard")
        self.services: Services | None = None
        self.queue: Queue | None = None
        self.row_id: int | None = None
        self.pool_worker_id: int | None = None
        self.beat_conn: Any = None
        self.beat_lock = asyncio.Lock()

    def run(self, burst: bool = False) -> None:
        asyncio.run(self._main(burst))

    async def _main(self, burst: bool) -> None:
        import procrastinate

        check_migrated(self.settings)
        worker_settings = dataclasses.replace(self.settings, create_tables=False, pool_size=self.concurrency + 1)
        self.services = Services(worker_settings)
        self.queue = Queue(self.settings, self.pool)
        app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(
                conninfo=conninfo(self.settings), min_size=1, max_size=max(4, self.concurrency + 2)
            )
        )
        app.task(name=SHARD_TASK, queue=QUEUE, pass_context=True)(self._shard)
        app.task(name=RESCORE_TASK, queue=QUEUE, pass_context=True)(self._rescore)
        janitor = app.task(name=JANITOR_TASK, queue=JANITOR_QUEUE, pass_context=True, queueing_lock=JANITOR_TASK,
                           priority=JANITOR_PRIORITY)  # fmt: skip
        app.periodic(cron="* * * * * */2", periodic_id="janitor")(janitor(self._janitor))
        self.row_id = self._register()
        beat = asyncio.create_task(self._beat())
        log(f"worker {self.name} ({socket.gethostname()}, pid {os.getpid()}): {self.concurrency} shards at a time"
            + (", until the queue is empty" if burst else ""))  # fmt: skip
        try:
            async with app.open_async():
                work = asyncio.create_task(
                    app.run_worker_async(
                        queues=[QUEUE, JANITOR_QUEUE],
                        concurrency=self.concurrency,
                        name=self.name,
                        update_heartbeat_interval=self.pool.heartbeat_s,
                        stalled_worker_timeout=self.pool.stalled_s,
                        delete_jobs="successful",
                        listen_notify=True,
                        fetch_job_polling_interval=1.0,
                        abort_job_polling_interval=1.0,
                    )
                )
                idle = asyncio.create_task(self._until_idle(work)) if burst else None
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                if idle is not None:
                    idle.cancel()
        finally:
            beat.cancel()
            self._stopped()
            self.threads.shutdown(wait=False, cancel_futures=True)
            self.queue.close()
            self.services.close()

    async def _until_idle(self, work: asyncio.Task[None]) -> None:
        """Burst mode: stop once no shard is queued or running for a second (shards a running shard queues when
        it ends keep the worker on; procrastinate's own ``wait=False`` would stop while they run)."""
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        while True:
            idle_checks = 0
            while idle_checks < 3:
                await asyncio.sleep(0.5)
                pending = await loop.run_in_executor(None, self.queue.pending)
                idle_checks = idle_checks + 1 if pending == 0 else 0
            await loop.run_in_executor(self.threads, self._reconcile)  # a run whose next shards nobody queued
            await loop.run_in_executor(None, self._set_stopping, True)  # a run started now starts a new worker
            if await loop.run_in_executor(None, self.queue.pending) == 0:
                break
            await loop.run_in_executor(None, self._set_stopping, False)
        log(f"worker {self.name}: the queue is empty, stopping")
        work.cancel()

    def _set_stopping(self, stopping: bool) -> None:
        with _connect(self.settings) as conn:
            conn.execute(
                f"UPDATE {WORKERS_TABLE} SET stopped_at = {'now()' if stopping else 'NULL'} WHERE id = %s",
                (self.row_id,),
            )

    def _register(self) -> int:
        with _connect(self.settings) as conn:
            row = conn.execute(
                f"INSERT INTO {WORKERS_TABLE} (name, host, pid, concurrency) VALUES (%s, %s, %s, %s) RETURNING id",
                (self.name, socket.gethostname(), os.getpid(), self.concurrency),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def _stopped(self) -> None:
        with contextlib.suppress(Exception), _connect(self.settings) as conn:
            conn.execute(f"UPDATE {WORKERS_TABLE} SET stopped_at = now() WHERE id = %s", (self.row_id,))

    async def _beat(self) -> None:
        import psycopg

        self.beat_conn = await psycopg.AsyncConnection.connect(conninfo(self.settings), autocommit=True)
        try:
            while True:
                await self._update_row()
                await asyncio.sleep(self.pool.heartbeat_s)
        finally:
            await self.beat_conn.close()

    async def _update_row(self) -> None:
        import psycopg

        async with self.beat_lock:
            with contextlib.suppress(psycopg.Error):
                await self.beat_conn.execute(
                    f"UPDATE {WORKERS_TABLE} SET last_heartbeat = now(),"
                    " pool_worker_id = coalesce(%s, pool_worker_id) WHERE id = %s",
                    (self.pool_worker_id, self.row_id),
                )

    async def _claimed(self, context: Any) -> None:
        """procrastinate's id of this worker, known from its first job: ``workers list`` shows its jobs."""
        if self.pool_worker_id != context.job.worker_id:
            self.pool_worker_id = context.job.worker_id
            if self.beat_conn is not None:
                await self._update_row()

    async def _shard(self, context: Any, run_id: str, shard: int) -> None:
        await self._claimed(context)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.threads, self._execute, UUID(run_id), int(shard))

    def _execute(self, run_id: UUID, shard: int) -> None:
        assert self.services is not None and self.queue is not None
        with project_scope(None):  # the system scope: a worker executes shards of every project
            try:
                outcome = execute_shard(self.services, run_id, shard)
            except Exception as exc:
                if dropped(exc):  # the store is unreachable: the job fails, the janitor queues the shard again
                    raise
                traceback.print_exc()  # the worker's own failure (not an item's): the run fails, as in one process
                with contextlib.suppress(Conflict):
                    self.services.app.fail_run(run_id, f"{type(exc).__name__}: {exc}"[:500])
                return
            started = time.perf_counter()
            run = self.services.app.get(Run, run_id, "run")
            if run.status == "running":
                self.queue.fill(run, ending=shard)
            log(f"run {run_id}: shard {shard} {outcome}, refill {time.perf_counter() - started:.3f} s")

    async def _rescore(self, context: Any, rescore_id: str) -> None:
        """A rescore, as one job, under its lock (``worker.locks``): a redelivered job whose first execution still
        runs (a worker that was only slow) finds it owned and leaves it."""
        await self._claimed(context)
        target = PREFIX + str(UUID(rescore_id))
        settings = dataclasses.replace(self.settings, create_tables=False, pool_size=1)
        await asyncio.get_running_loop().run_in_executor(self.threads, execute_owned, settings, target)

    async def _janitor(self, context: Any, timestamp: int) -> None:
        manager = context.app.job_manager
        loop = asyncio.get_running_loop()
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=self.pool.stalled_s):
            try:
                if job.task_name == SHARD_TASK and job.attempts + 1 >= MAX_ATTEMPTS:
                    await loop.run_in_executor(self.threads, self._give_up, job.task_kwargs, job.attempts + 1)
                log(f"janitor: job {job.id} {job.task_kwargs} of a silent worker is queued again")
                await manager.retry_job(job)  # a shard of a run that ended returns at once
            except Exception:
                traceback.print_exc()
        await loop.run_in_executor(self.threads, self._reconcile)

    def _give_up(self, task_kwargs: dict[str, Any], attempts: int) -> None:
        assert self.services is not None
        run_id, shard = UUID(str(task_kwargs["run_id"])), int(task_kwargs["shard"])
        with project_scope(None), contextlib.suppress(Conflict):
            self.services.app.fail_run(run_id, f"shard {shard} lost its worker {attempts} times")

    def _reconcile(self) -> None:
        """Refill the window of every running sharded run (a chain a crash broke); drop ended runs' queued jobs."""
        assert self.services is not None and self.queue is not None
        with project_scope(None):
            rows = self.queue.conn.execute(
                "SELECT DISTINCT args->>'run_id' FROM procrastinate_jobs WHERE task_name = %s AND status = 'todo'",
                (SHARD_TASK,),
            ).fetchall()
            queued = {row[0] for row in rows}
            for run_id in self._running_runs() | queued:
                try:
                    run = self.services.app.get(Run, UUID(run_id), "run")
                    pooled = run.status == "running" and run.shard_size and run.pooled  # (not a local executor's)
                    if pooled and not is_owned(self.settings, run_id):
                        self.queue.fill(run)  # (owned: a process executes it itself, e.g. an inline eval)
                    elif run.status != "running" and run_id in queued:
                        self.queue.cancel(run.id)
                except Exception:
                    traceback.print_exc()
            rescores = self.services.view.query("SELECT id FROM {p}rescores WHERE status = 'running'")
            for row in rescores:  # a rescore whose job failed or was lost: queued again
                with contextlib.suppress(Exception):
                    if not is_owned(self.settings, PREFIX + str(row["id"])):
                        self.queue.enqueue_rescore(UUID(str(row["id"])))
            with contextlib.suppress(Exception), self.queue.lock:  # rows of workers gone for a day
                self.queue.conn.execute(f"DELETE FROM {WORKERS_TABLE} WHERE last_heartbeat < now() - interval '1 day'")

    def _running_runs(self) -> set[str]:
        assert self.services is not None
        rows = self.services.view.query("SELECT id FROM {p}runs WHERE status = 'running'")
        return {str(row["id"]) for row in rows}


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{int(time.time()) % 100000}"
