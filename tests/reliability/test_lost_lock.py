"""Two workers on one run, a worker whose PostgreSQL lock connection dropped, a wait whose connections dropped:
the run completes with every item recorded exactly once, is never failed, and the wait goes on to the end.

Items are held on files in stages (``slow`` in tests/conftest.py), so each stage ends with the workers racing to
record the same chunk: the run is mid-way when the test acts, whatever the machine's speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.adapters.components import discover
from agnt5_evals.domain.runs import Run
from agnt5_evals.worker.locks import _key, is_owned
from agnt5_evals.worker.worker import launch, log_path
from tests.reliability.harness import checked
from tests.support import definition, execute, logged_items, release, wait_until

PER_STAGE = 10  # items per stage; with 8 in flight every chunk is a "tail" chunk, recorded within 0.05 s
AGNT5 = str(Path(sys.executable).with_name("agnt5"))


def staged_run(svc: Services, agent_dir: Path, holds: list[Path]) -> UUID:
    """A started run (no worker yet) of ``(len(holds) + 1) * PER_STAGE`` items: stage 0 runs at once, stage k
    waits for ``holds[k - 1]``."""
    app = svc.app
    ds = app.create_dataset("staged").id
    stages = [None, *holds]
    app.add_items(ds, [{"input": {"n": n, "sleep": 0, **({"hold": str(stages[s])} if stages[s] else {})},
                        "expected_output": None}
                       for s in range(len(stages)) for n in range(s * PER_STAGE, (s + 1) * PER_STAGE)])  # fmt: skip
    version = app.publish(ds).id
    dep = app.create_deployment("slow", "good_agent", str(agent_dir), discover("good_agent", str(agent_dir))).id
    spec = definition(ds, version, dep, "json_valid", concurrency=8)
    spec["target"].update(component_name="slow", component_type="function")
    return app.start_run(app.create_experiment("staged", "", spec).id).id


def stored(svc: Services, run_id: UUID) -> Run:
    run: Run = svc.app.repository.get(run_id)
    return run


def recorded(svc: Services, run_id: UUID) -> Counter[str]:
    """How many times the log records each of the run's items."""
    return Counter(item["run_item_id"] for item in logged_items(svc.app) if item["run_id"] == str(run_id))


def assert_completed_exactly_once(svc: Services, run_id: UUID, total: int) -> None:
    names = [type(e).__qualname__ for e in svc.app.events.get(run_id)]
    assert "Run.Failed" not in names, names
    assert stored(svc, run_id).status == "completed"
    counts = recorded(svc, run_id)
    assert len(counts) == total and set(counts.values()) == {1}, counts
    checked()  # and the store as a whole is intact (services/invariants.py)


def release_stages(svc: Services, run_id: UUID, holds: list[Path]) -> None:
    """Release the stages one by one, each once the one before is recorded (or the run ended)."""
    for stage, hold in enumerate(holds, start=1):
        release(hold)
        wait_until(lambda s=stage: stored(svc, run_id).next_position >= (s + 1) * PER_STAGE
                   or stored(svc, run_id).status != "running", message=f"stage {stage} was not recorded")  # fmt: skip


def worker_once() -> subprocess.Popen[str]:
    """``agnt5 worker --once`` in its own process (it waits for the workers it starts)."""
    return subprocess.Popen([AGNT5, "worker", "--once"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def log_of(settings: Settings, run_id: UUID) -> str:
    path = log_path(settings, str(run_id))
    return path.read_text() if path.exists() else ""


_LOCK_HOLDER = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = %s AND objid = %s"
)


def _halves(key: int) -> tuple[int, int]:
    """A bigint advisory lock key as ``pg_locks`` shows it: its high and low 32 bits."""
    unsigned = key & (2**64 - 1)
    return unsigned >> 32, unsigned & (2**32 - 1)


def pg_admin() -> psycopg.Connection[Any]:
    url = os.environ["AGNT5_DATABASE_URL"].split("?")[0]
    return psycopg.connect(url, autocommit=True)


@pytest.fixture
def holds(tmp_path: Path) -> list[Path]:
    return [tmp_path / f"release-{stage}" for stage in (1, 2, 3)]


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # a file lock cannot be lost while its process lives
def test_a_worker_whose_lock_connection_dropped_takes_it_back_or_stops(store, agent_dir, holds):
    settings = Settings.from_env()
    with Services(settings) as svc:
        run_id = staged_run(svc, agent_dir, holds)
        first = launch(run_id, settings)
        wait_until(lambda: stored(svc, run_id).next_position >= PER_STAGE, message=lambda: log_of(settings, run_id))

        with pg_admin() as admin:  # the connection holding the run's advisory lock (not the worker's store's)
            killed = admin.execute(
                f"SELECT pg_terminate_backend(pid) FROM ({_LOCK_HOLDER}) holder", (*_halves(_key(str(run_id))),)
            ).fetchall()
        assert len(killed) == 1
        second = worker_once()  # a second worker, unless the first took its lock back already
        wait_until(lambda: second.poll() is not None or "another worker owns it" in log_of(settings, run_id)
                   or log_of(settings, run_id).count("items to execute") >= 2,
                   message=lambda: log_of(settings, run_id))  # fmt: skip

        release_stages(svc, run_id, holds)
        assert second.wait(timeout=120) == 0, second.stderr.read() if second.stderr else ""
        assert first.wait(timeout=120) == 0
        assert_completed_exactly_once(svc, run_id, 4 * PER_STAGE)
        assert not is_owned(settings, str(run_id))


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_worker_whose_lock_another_took_stops_without_failing_the_run(store, agent_dir, holds):
    settings = Settings.from_env()
    with Services(settings) as svc:
        run_id = staged_run(svc, agent_dir, holds)
        first = launch(run_id, settings)
        wait_until(lambda: stored(svc, run_id).next_position >= PER_STAGE, message=lambda: log_of(settings, run_id))

        with pg_admin() as admin, pg_admin() as other:  # ``other`` plays a worker that takes the free lock
            key = _key(str(run_id))
            holder = admin.execute(_LOCK_HOLDER, (*_halves(key),)).fetchone()
            assert holder is not None
            admin.execute("SELECT pg_terminate_backend(%s)", (holder[0],))
            other.execute("SELECT pg_advisory_lock(%s)", (key,))  # queued first: granted as the backend exits
            wait_until(lambda: first.poll() is not None, message=lambda: log_of(settings, run_id))
            assert first.returncode == 0
            assert "another worker owns the run now" in log_of(settings, run_id)
            assert stored(svc, run_id).status == "running"

        for hold in holds:
            release(hold)
        resumed = worker_once()  # the lock is free again: a new worker finishes the run
        assert resumed.wait(timeout=120) == 0, resumed.stderr.read() if resumed.stderr else ""
        assert_completed_exactly_once(svc, run_id, 4 * PER_STAGE)


def test_two_workers_on_one_run_complete_it_exactly_once(store, agent_dir, holds):
    settings = Settings.from_env()
    with Services(settings) as svc:
        run_id = staged_run(svc, agent_dir, holds)
        statuses: list[str] = []

        def unlocked_worker() -> None:  # a worker that took no lock: a second writer, deliberately
            with Services(settings) as own:
                statuses.append(execute(own, run_id))

        thread = threading.Thread(target=unlocked_worker, name="unlocked-worker", daemon=True)
        thread.start()
        wait_until(lambda: stored(svc, run_id).next_position >= PER_STAGE, message="stage 0 was not recorded")
        second = worker_once()  # the lock is free: `agnt5 worker --once` gives the run a (second) worker
        wait_until(lambda: "items to execute" in log_of(settings, run_id), message=lambda: log_of(settings, run_id))

        release_stages(svc, run_id, holds)
        assert second.wait(timeout=120) == 0, second.stderr.read() if second.stderr else ""
        thread.join(timeout=120)
        assert statuses == ["completed"]
        assert_completed_exactly_once(svc, run_id, 4 * PER_STAGE)
        assert "run failed" not in log_of(settings, run_id)


def client_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (its PostgreSQL connections' ``client_port``)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # SQLite has no connection to lose
def test_a_wait_whose_connections_dropped_goes_on_waiting(store, agent_dir, holds):
    settings = Settings.from_env()
    with Services(settings) as svc:
        run_id = staged_run(svc, agent_dir, holds)  # a run to take the experiment from
        experiment_id = str(stored(svc, run_id).experiment_id)
        svc.app.cancel_run(run_id)
    waiting = subprocess.Popen([AGNT5, "experiments", "run", experiment_id, "--wait", "--format", "json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    with Services(settings) as svc:

        def new_run() -> UUID | None:
            runs = [r for r in svc.view.query("SELECT id FROM {p}runs") if r["id"] != str(run_id)]
            return UUID(runs[0]["id"]) if runs else None

        svc.catch_up()
        waited = wait_until(lambda: svc.catch_up() is not None and new_run(), message="the run did not start")
        wait_until(lambda: stored(svc, waited).next_position >= PER_STAGE, message="stage 0 was not recorded")
        with pg_admin() as admin:
            ports = wait_until(lambda: client_ports(waiting.pid), message="the wait has no connection")
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = ANY(%s)"
                " AND client_addr IS NOT NULL",
                (list(ports),),
            ).fetchall()
        assert killed

        release_stages(svc, waited, holds)
        out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, err
        assert "Traceback" not in err
        summary = json.loads(out)
        assert (summary["id"], summary["status"], summary["done_items"]) == (str(waited), "completed", 4 * PER_STAGE)
        assert_completed_exactly_once(svc, waited, 4 * PER_STAGE)
