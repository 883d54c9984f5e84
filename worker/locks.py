"""Run ownership: a worker holds an exclusive lock on a run while executing it.

The lock dies with its process (a file lock on SQLite, an advisory lock on PostgreSQL), so a run whose lock is
free while it is still ``running`` has no live worker and can be resumed by another one. Exactly-once recording
does not rely on the lock (the run's optimistic concurrency does); the lock prevents two workers wasting work.

On PostgreSQL the lock also dies with its connection (the server restarts, ``pg_terminate_backend``, a network
cut) while the worker lives on: ``RunLock.check`` notices and takes the lock back on a new connection, or says
that another worker took it meanwhile (the worker then stops, see ``worker.dispatch``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from typing import Any

from agnt5_evals.adapters.bootstrap import Settings


def _key(run_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"agnt5-run:{run_id}".encode()).digest()[:8], "big", signed=True)


class RunLock:
    """``with RunLock(settings, run_id) as held: ...`` where ``held`` says whether this process owns the run."""

    def __init__(self, settings: Settings, run_id: str, connection: Any = None) -> None:
        self.settings = settings
        self.run_id = run_id
        self.handle: Any = connection  # PostgreSQL: a connection opened ahead (worker.standby), else opened here
        self.held = False

    def acquire(self) -> bool:
        if self.settings.database_url:
            if self.handle is None:
                self.handle = connect(self.settings)
            self.held = self._try_advisory_lock()
        else:
            path = self.settings.home / "locks"
            path.mkdir(parents=True, exist_ok=True)
            self.handle = open(path / f"run-{self.run_id}.lock", "a+")  # noqa: SIM115
            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
            except BlockingIOError:
                self.held = False
        if not self.held:
            self.release()
        return self.held

    def check(self) -> bool:
        """Whether this process still holds the lock; on PostgreSQL a lock lost with its connection is taken back
        on a new one. False only when another worker holds it; a server that cannot be reached now counts as
        held (nothing can be recorded meanwhile, and the next check tries again)."""
        if not self.held or not self.settings.database_url:
            return self.held
        import psycopg

        try:
            self.handle.execute("SELECT 1")
            return True
        except psycopg.Error:
            with contextlib.suppress(psycopg.Error):
                self.handle.close()
        try:
            self.handle = connect(self.settings)
            if self._try_advisory_lock():
                return True
        except psycopg.Error:
            return True
        self.release()
        return False

    def _try_advisory_lock(self) -> bool:
        """Take the advisory lock if it is free; the connection is named ``agnt5-lock:RUN_ID`` (pg_stat_activity)."""
        row = self.handle.execute(
            "SELECT pg_try_advisory_lock(%s), set_config('application_name', %s, false)",
            (_key(self.run_id), f"agnt5-lock:{self.run_id}"),
        ).fetchone()
        return bool(row and row[0])

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing the connection or the file releases the lock
            self.handle = None
        self.held = False

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def connect(settings: Settings) -> Any:
    """A connection for one PostgreSQL run lock (the lock lives as long as the connection)."""
    import psycopg

    return psycopg.connect(**settings.pg_connect_kwargs(), autocommit=True, application_name="agnt5-lock")


def is_owned(settings: Settings, run_id: str) -> bool:
    """Whether some live process holds the run's lock right now."""
    probe = RunLock(settings, run_id)
    if probe.acquire():
        probe.release()
        return False
    return True


__all__ = ["RunLock", "connect", "is_owned"]
