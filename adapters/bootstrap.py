"""The composition root: settings from the environment, then the application and its read model."""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    InfrastructureFactory,
    PersistenceError,
    Recording,
)
from eventsourcing.utils import Environment

from agnt5_evals.adapters import bundles
from agnt5_evals.adapters.settings import EXECUTORS as EXECUTORS
from agnt5_evals.adapters.settings import Settings as Settings
from agnt5_evals.adapters.settings import dropped as dropped
from agnt5_evals.adapters.settings import with_ddl_retry as _with_ddl_retry
from agnt5_evals.adapters.sqlitestore import NOTHING_WRITTEN
from agnt5_evals.domain.application import EvalsApplication
from agnt5_evals.domain.errors import Unavailable
from agnt5_evals.projections.catchup import (
    REBUILD_BATCH,
    REBUILD_BYTES,
    REBUILD_OPS,
    apply_own,
    catch_up,
    position,
    wait_until,
)
from agnt5_evals.projections.schema import VIEW_NAME
from agnt5_evals.projections.views import EvalsView, SQLiteEvalsView

_open = 0  # Services open in this process: a worker may be forked only while there is none (worker.standby)


def open_stores() -> int:
    return _open


def _has_pool(app: EvalsApplication) -> bool:
    """Whether ``agnt5 db migrate`` made this PostgreSQL store's worker pool (its queue's table exists)."""
    datastore: Any = getattr(app.recorder, "datastore", None)
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(b"SELECT to_regclass(%s) AS queue", [f'"{datastore.schema}".procrastinate_jobs'])
        row = cursor.fetchone()
    return row is not None and row["queue"] is not None


def _ensure_tables(app: EvalsApplication) -> None:
    """Create the event and snapshot tables on PostgreSQL unless they exist.

    ``CREATE ... IF NOT EXISTS`` still takes table locks (and round trips) on every command; a check first avoids
    both when the tables are there, which is every time but the first.
    """
    recorders: list[Any] = [app.recorder] + ([app.snapshots.recorder] if app.snapshots is not None else [])
    datastore: Any = getattr(app.recorder, "datastore", None)
    names = [f'"{datastore.schema}"."{getattr(r, "events_table_name", "")}"' for r in recorders]
    with datastore.transaction(commit=False) as cursor:
        columns = ", ".join(f"to_regclass(%s) AS t{n}" for n in range(len(names)))
        cursor.execute(f"SELECT {columns}".encode(), names)
        row = cursor.fetchone()
        found = [row[f"t{n}"] for n in range(len(names))]
    for recorder, exists in zip(recorders, found, strict=True):
        if exists is None:
            recorder.create_table()


class Services:
    """The application (the only writer) and the read model, built once per process."""

    def __init__(self, settings: Settings) -> None:
        global _open
        self.settings = settings
        check_tables = bool(settings.database_url) and settings.create_tables

        def construct() -> EvalsApplication:
            env = settings.persistence_env()  # may fail (AGNT5_HOME is a file): one Unavailable line
            if check_tables:  # PostgreSQL: run the DDL only if the tables are missing (see _ensure_tables)
                env["CREATE_TABLE"] = "n"
            return EvalsApplication(env=env)

        self.app = _with_ddl_retry(settings, construct)
        self.app.code_digester = lambda d: bundles.live_digest(d.path, d.include, d.exclude)
        self.queued = settings.queued or (
            settings.executor == "auto" and bool(settings.database_url) and _has_pool(self.app)
        )
        self.app.pool_runs = self.queued
        if check_tables:
            _with_ddl_retry(settings, lambda: _ensure_tables(self.app))
        self.closed = False
        self._catching_up = threading.Lock()  # one catch-up at a time in this process (the others find it done)
        self.background: BackgroundCatchUp | None = None
        self._last_failure = ""
        self._deferring = threading.local()  # per thread: a server's other requests still catch up
        self.app.written_listeners.append(self._written)
        _open += 1

    @functools.cached_property
    def view(self) -> EvalsView:
        """The read model, opened on first use (by the first catch-up after a command, or the first query)."""
        factory: Any = InfrastructureFactory.construct(Environment(VIEW_NAME, self.settings.view_env()))
        view_class: type[EvalsView] = SQLiteEvalsView
        if self.settings.database_url:
            from agnt5_evals.projections.views_pg import PostgresEvalsView  # psycopg is imported only for PostgreSQL

            view_class = PostgresEvalsView
        view: EvalsView = _with_ddl_retry(self.settings, lambda: factory.tracking_recorder(view_class))
        return view

    def catch_up(self) -> int:
        """Apply the log's new events to the read model: only writers do this (reads never write), namely this
        process after each of its commands, a worker after each chunk, a server's background thread."""
        with self._catching_up:
            return catch_up(self.app, self.view)

    def catch_up_quietly(self) -> int | None:
        """``catch_up``, but a failure is logged instead of raised: the write it follows is saved either way, and
        a read model that cannot advance (an event its handlers reject) must not fail writes or reads."""
        try:
            reached = self.catch_up()
        except Exception as exc:
            if not self.closed and str(exc) != self._last_failure:  # the same failure again is not logged again
                print(f"agnt5: the read model cannot catch up: {type(exc).__name__}: {exc}", file=sys.stderr)
            self._last_failure = str(exc)
            return None
        self._last_failure = ""
        return reached

    def _written(self, recordings: list[Recording[UUID]]) -> None:
        """After each command of this process: bring the read model up to the command's events (from memory when
        the view stands right before them, as it does for a worker recording its chunks)."""
        if self.closed or getattr(self._deferring, "on", False):
            return
        try:
            with self._catching_up:
                if apply_own(self.app, self.view, recordings):
                    self._last_failure = ""
                    return
        except Exception:  # catch_up below reads the log and reports what fails
            pass
        self.catch_up_quietly()

    @contextlib.contextmanager
    def catch_up_later(self) -> Iterator[None]:
        """Commands in this block do not catch up; the caller does, with ``wait_for``, once it has done what is
        more urgent (handing a run to its worker)."""
        self._deferring.on = True
        try:
            yield
        finally:
            self._deferring.on = False

    def wait_for(self, position: int, timeout: float = 30.0) -> bool:
        """Read-your-writes after a command: the writer makes sure the view holds ``position``."""
        try:
            with self._catching_up:
                return wait_until(self.app, self.view, position, timeout)
        except PersistenceError:
            raise
        except Unavailable as exc:  # a full or read-only disk under the read model: the command's events are saved
            raise Unavailable(
                f"saved at log position {position}, but the read model cannot catch up: "
                f"{exc.message.removesuffix(NOTHING_WRITTEN)}; then run `agnt5 projections catch-up`",
                exc.field,
            ) from None
        except Exception as exc:  # a handler rejects an event: the write is saved, its read-back cannot be shown
            raise Unavailable(f"saved at log position {position}, but the read model cannot catch up: {exc}") from None

    def reconnect(self) -> None:
        """After a dropped PostgreSQL connection (a server restart, ``pg_terminate_backend``): replace the broken
        connections of the application's and the view's pools, so the next query gets a working one."""
        views = [self.view] if "view" in self.__dict__ else []
        for store in [self.app.recorder, *views]:
            pool = getattr(getattr(store, "datastore", None), "pool", None)
            if pool is not None:
                with contextlib.suppress(Exception):  # the server is still away: the caller tries again later
                    pool.check()

    def lag(self) -> tuple[int, int]:
        """The log's head and the read model's position (reads only)."""
        return self.app.recorder.max_notification_id() or 0, position(self.app, self.view)

    def start_background_catch_up(self, interval: float = 0.2) -> BackgroundCatchUp:
        """Keep the read model current with other processes' writes (a long-lived server)."""
        if self.background is None:
            self.view  # noqa: B018 (opened before the thread starts, not concurrently with a request)
            self.background = BackgroundCatchUp(self, interval)
            self.background.start()
        return self.background

    def rebuild(self) -> int:
        """Build a new generation of the read model from position 0 while the live one keeps serving reads and
        being caught up by writers, switch to it in one transaction once it holds all the live one holds (catching
        it up again until it does), then drop the old generation; other processes follow on their next read."""
        building = self.view.begin_generation()
        catch_up(self.app, building, REBUILD_BATCH, REBUILD_BYTES, REBUILD_OPS)
        building.finish_bulk()
        while True:
            catch_up(self.app, building)
            if self.view.switch(building, self.app.name):
                break
        self.view.drop_old_generations(self.app.name)
        return self.catch_up()

    def close(self) -> None:
        global _open
        if self.closed:
            return
        if self.background is not None:
            self.background.stop()
        self.closed = True
        _open -= 1
        self.app.close()
        if "view" in self.__dict__:  # opened
            datastore = getattr(self.view, "datastore", None)
            if datastore is not None:
                datastore.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BackgroundCatchUp(threading.Thread):
    """A thread that catches the read model up every ``interval`` seconds until stopped."""

    def __init__(self, services: Services, interval: float) -> None:
        super().__init__(name="agnt5-catch-up", daemon=True)
        self.services = services
        self.interval = interval
        self.stopping = threading.Event()
        self.rounds = 0  # completed catch-ups (tests wait on it instead of on the clock)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.services.catch_up_quietly()
            self.rounds += 1
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join()


def build(settings: Settings | None = None) -> Services:
    return Services(settings or Settings.from_env())
