"""Run ownership: a worker holds an exclusive lock on a run while executing it.

The lock dies with its process (a file lock on SQLite, an advisory lock on PostgreSQL), so a run whose lock is
free while it is still ``running`` has no live worker and can be resumed by another one. Exactly-once recording
does not rely on the lock (the run's optimistic concurrency does); the lock prevents two workers wasting work.
"""

from __future__ import annotations

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
            row = self.handle.execute("SELECT pg_try_advisory_lock(%s)", (_key(self.run_id),)).fetchone()
            self.held = bool(row and row[0])
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

    return psycopg.connect(**settings.pg_connect_kwargs(), autocommit=True)


def is_owned(settings: Settings, run_id: str) -> bool:
    """Whether some live process holds the run's lock right now."""
    probe = RunLock(settings, run_id)
    if probe.acquire():
        probe.release()
        return False
    return True


__all__ = ["RunLock", "connect", "is_owned"]
