"""A worker forked ahead of its run, so that the run's first item starts milliseconds after the run is recorded.

A fresh worker process (``python -m agnt5_evals.worker.worker``) needs 0.1-0.25 s to start Python, import the service
and connect before it executes anything. The CLI knows it is about to start a run before it opens its own store, so
``experiments run`` first forks a standby: a copy of the CLI process with everything imported, which detaches
(new session, standard streams on ``/dev/null``), opens its own store and waits on a pipe. Once the run is
recorded the CLI writes the run id into the pipe and the standby executes it exactly as ``worker.worker`` would
(run lock, log file under ``$AGNT5_HOME/logs``), outliving the CLI. If the CLI records no run (bad input, a
crash), the pipe closes and the standby exits.

Forking is safe only while this process has no open store (SQLite connections, connection pools) and no other
thread; otherwise, and where fork is unsafe (not Linux) or ``AGNT5_STANDBY=0``, ``Standby.fork`` returns None
and the caller launches a fresh worker process. Component code is imported in the standby after the fork, so it
is always the current code.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from agnt5_evals.adapters import bootstrap
from agnt5_evals.adapters.bootstrap import Services, Settings


@contextlib.contextmanager
def standby(
    wanted: bool = True, settings: Settings | None = None, experiment_id: UUID | None = None
) -> Iterator[Standby | None]:
    """``with standby() as worker, services() as svc: ... start_run(svc, ..., standby=worker)``.

    Enter it before opening any store; a standby that was not handed a run is cancelled on exit. With the
    ``experiment_id`` of the run to come, the standby loads its dataset version's items while it waits.
    """
    worker = Standby.fork(settings or Settings.from_env(), experiment_id) if wanted else None
    try:
        yield worker
    finally:
        if worker is not None:
            worker.cancel()


class ForkedWorker:
    """A standby that was handed its run: ``pid``, ``poll()`` and ``wait()`` as on ``subprocess.Popen``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid == 0:
                    return None
                self.returncode = os.waitstatus_to_exitcode(status)
            if self.returncode is None:  # reaped elsewhere: alive only if the process still exists
                try:
                    os.kill(self.pid, 0)
                    return None
                except ProcessLookupError:
                    self.returncode = 0
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                self.returncode = 0
        return self.returncode


class Standby:
    """The parent's end of a standby worker: ``hand(run_id)`` once the run is recorded, or ``cancel()``."""

    def __init__(self, pid: int, pipe: int) -> None:
        self.pid = pid
        self.pipe: int | None = pipe

    @staticmethod
    def allowed() -> bool:
        if os.environ.get("AGNT5_STANDBY", "1").strip().lower() in ("0", "false", "no", "off"):
            return False
        return sys.platform == "linux" and bootstrap.open_stores() == 0 and threading.active_count() == 1

    @classmethod
    def fork(cls, settings: Settings, experiment_id: UUID | None = None) -> Standby | None:
        """Fork a standby worker for ``settings``'s store, or None when forking is not safe here."""
        if not cls.allowed() or settings.queued:  # queued: the worker pool executes the run
            return None
        if settings.database_url:
            import psycopg  # noqa: F401  (imported once here instead of in the standby's critical path)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()  # nothing buffered may be written twice
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # no memory or processes left: the caller launches a worker process instead
            os.close(read_end)
            os.close(write_end)
            return None
        if pid == 0:  # the standby: never return into the caller's code
            code = 1
            try:
                os.close(write_end)
                code = _standby(read_end, settings, experiment_id)
            except BaseException:
                with contextlib.suppress(Exception):
                    traceback.print_exc()
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        os.close(read_end)
        return cls(pid, write_end)

    def hand(self, run_id: UUID | str) -> ForkedWorker | None:
        """Give the standby its run; None if it is gone (the caller then launches a worker process)."""
        if self.pipe is None:
            return None
        try:
            os.write(self.pipe, f"{run_id}\n".encode())
        except OSError:
            return None
        finally:
            self._close()
        return ForkedWorker(self.pid)

    def cancel(self) -> None:
        """No run for the standby (a no-op once handed one): it sees the pipe close and exits."""
        if self.pipe is not None:
            self._close()
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, os.WNOHANG)  # reaped now if already gone; else when this process exits

    def _close(self) -> None:
        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None


def _detach() -> None:
    """A session of its own (no terminal signals) and standard streams that hold no caller's pipe open."""
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdin = open(os.devnull)  # noqa: SIM115
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115


def _log_to(settings: Settings, run_id: str) -> None:
    from agnt5_evals.worker.worker import log_path

    fd = os.open(log_path(settings, run_id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115


def _read_run_id(fd: int) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 64)
        if not chunk:
            return ""  # the caller recorded no run
        data += chunk
    os.close(fd)
    return data.decode().strip()


def _preload(services: Services, experiment_id: UUID) -> None:
    """Read the first items of the experiment's dataset version for the run to come (worker.execute.PRELOADED);
    the others are read as the run reaches them (worker.items.VersionItems)."""
    from agnt5_evals.domain.model import DatasetVersion, Experiment
    from agnt5_evals.worker.execute import PRELOADED
    from agnt5_evals.worker.items import VersionItems

    experiment = services.app.get(Experiment, experiment_id, "experiment")
    version = services.app.get(DatasetVersion, UUID(experiment.definition["dataset_version_id"]), "dataset version")
    items = VersionItems.of(services.app, version)
    if version.n_items:
        items.ensure(0)
    PRELOADED[version.id] = items


def _standby(read_end: int, settings: Settings, experiment_id: UUID | None = None) -> int:
    from agnt5_evals.adapters.components import forget_imported
    from agnt5_evals.worker.dispatch import log
    from agnt5_evals.worker.locks import connect
    from agnt5_evals.worker.worker import (
        execute_owned,
        worker_settings,
    )  # the worker's whole import graph, before the run

    _detach()
    forget_imported()  # components are imported afresh, whatever the parent process ran before
    settings = worker_settings(settings)
    services: Services | None = None
    lock: Any = None
    with contextlib.suppress(Exception):  # a store that cannot be opened now is reported with the run, below
        services = Services(settings)
        lock = connect(settings) if settings.database_url else None  # the run lock's own connection, ahead
        if experiment_id is not None:
            _preload(services, experiment_id)
    import numpy  # noqa: F401  (the run's last save builds its vector with it: imported now, not at the run's end)

    run_id = _read_run_id(read_end)
    if not run_id:
        if services is not None:
            services.close()
        if lock is not None:
            lock.close()
        return 0
    _log_to(settings, run_id)
    log(f"run {run_id}: standby worker {os.getpid()} takes the run")
    return execute_owned(settings, run_id, services, lock)
