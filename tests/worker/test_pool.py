"""The worker pool for real: PostgreSQL, procrastinate, and two or three ``agnt5 worker`` processes.

A worker killed with SIGKILL mid-run: its shards are taken up again and every item is recorded exactly once. A
cancelled run writes nothing after its cancel. Two runs at once both progress.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from typer.testing import CliRunner

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.adapters.components import discover
from agnt5_evals.cli.main import app as cli
from agnt5_evals.domain.runs import Run
from agnt5_evals.projections import queries
from agnt5_evals.services import invariants, operations, runs
from agnt5_evals.worker import pool
from tests.conftest import _drop_schema
from tests.support import definition, release, wait_until

COUNTER = """
import os
import time
from agnt5_evals import component


@component("counter", type="function")
def counter(input):
    with open(input["log"], "a") as log:  # one line per execution: what ran twice is counted
        log.write(f"{input['n']}\\n")
    held = time.monotonic() + 120
    while input.get("hold") and not os.path.exists(input["hold"]) and time.monotonic() < held:
        time.sleep(0.02)
    time.sleep(input.get("sleep", 0.01))
    return {"n": input["n"]}
"""


@pytest.fixture
def pool_env(pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A fresh schema in queue mode, migrated, with a fast heartbeat; the environment for workers."""
    schema = f"p_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    env = {
        "AGNT5_DATABASE_URL": f"{pg_database}?schema={schema}", "AGNT5_EXECUTOR": "queue",
        "AGNT5_HOME": str(tmp_path / "home"), "AGNT5_WORKER_HEARTBEAT_S": "0.5", "AGNT5_WORKER_STALLED_S": "3",
        "AGNT5_SHARD_WINDOW": "2",
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        yield {**os.environ, **env}
    finally:
        for burst in pool._launched:  # a worker a test's run started on this machine (none live in the pool)
            if burst.poll() is None:
                burst.kill()
                burst.wait()
        pool._launched.clear()
        pool.close_queues()
        _drop_schema(pg_database, schema)


@pytest.fixture
def svc(pool_env: dict[str, str]) -> Iterator[Services]:
    migrated = CliRunner().invoke(cli, ["db", "migrate"])
    assert migrated.exit_code == 0, migrated.output
    services = Services(Settings.from_env())
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
def workers(pool_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[int], list[subprocess.Popen[bytes]]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(n: int) -> list[subprocess.Popen[bytes]]:
        for i in range(n):
            log = (tmp_path / f"worker-{len(started)}.log").open("ab")
            started.append(subprocess.Popen(
                [sys.executable, "-m", "agnt5_evals.cli.main", "worker", "--concurrency", "2", "--name", f"w{i}"],
                env=pool_env, stdout=log, stderr=log, start_new_session=True,
            ))  # fmt: skip
        settings = Settings.from_env()  # live before the test starts a run, so that none is started for it
        wait_until(lambda: len(pool.live_workers(settings)) >= len(started), message=lambda: logs(tmp_path))
        return started

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def logs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(tmp_path.glob("worker-*.log")))


def experiment(svc: Services, tmp_path: Path, name: str, n_items: int, hold: Path | None = None,
               held_from: int = 0, sleep: float = 0.01, shard_size: int = 5) -> tuple[UUID, Path]:  # fmt: skip
    agents = tmp_path / "agents"
    agents.mkdir(exist_ok=True)
    (agents / "counter_agent.py").write_text(textwrap.dedent(COUNTER))
    log = tmp_path / f"{name}.executions"
    app = svc.app
    ds = app.create_dataset(name)
    items = [
        {"input": {"n": n, "log": str(log), "sleep": sleep, **({"hold": str(hold)} if hold and n >= held_from else {})},
         "expected_output": {"n": n}}
        for n in range(n_items)
    ]  # fmt: skip
    app.add_items(ds.id, items)
    version = app.publish(ds.id)
    dep = app.create_deployment(name, "counter_agent", str(agents), discover("counter_agent", str(agents)))
    spec = definition(ds.id, version.id, dep.id, "exact_match", concurrency=2, shard_size=shard_size)
    spec["target"].update(component_name="counter", component_type="function")
    return app.create_experiment(name, "", spec).id, log


def recorded(svc: Services, run_id: str) -> list[int]:
    svc.catch_up()
    return sorted(row["position"] for row in queries.run_items(svc.view, run_id))


def status(svc: Services, run_id: str) -> dict[str, Any]:
    svc.catch_up()
    return operations.summary(svc, run_id, detail=False)


def test_sigkill_of_a_worker_mid_run_records_every_item_exactly_once(svc, workers, tmp_path):
    hold = tmp_path / "release"
    n_items, held_from = 120, 40  # items from 40 on wait: the killed worker surely holds a shard in flight
    exp, log = experiment(svc, tmp_path, "kill", n_items, hold, held_from)
    procs = workers(3)
    run_id = operations.start_run(svc, exp)["id"]

    def busy() -> list[dict[str, Any]]:
        return [w for w in pool.live_workers(svc.settings) if any(s["run_id"] == run_id for s in w["shards"])]

    wait_until(lambda: len(recorded(svc, run_id)) >= held_from and busy(), message=lambda: logs(tmp_path))
    victim = busy()[0]
    lost = [s["shard"] for s in victim["shards"]]
    os.kill(victim["pid"], signal.SIGKILL)
    next(p for p in procs if p.pid == victim["pid"]).wait()
    release(hold)

    final = wait_until(lambda: (s := status(svc, run_id))["status"] != "running" and s, message=lambda: logs(tmp_path))
    assert (final["status"], final["done_items"], final["passed_items"]) == ("completed", n_items, n_items)
    assert recorded(svc, run_id) == list(range(n_items))  # every item once, none twice
    executions = Counter(int(line) for line in log.read_text().split())
    assert set(executions) == set(range(n_items))
    twice = {n for n, count in executions.items() if count > 1}
    assert all(n // 5 in lost for n in twice)  # only the killed worker's shards ran again
    assert invariants.check(svc).ok
    # the janitor takes the dead worker's job up (after the run completed, if the killed shard was saved already)
    wait_until(lambda: "queued again" in logs(tmp_path), message=lambda: logs(tmp_path))


def test_a_cancelled_run_writes_nothing_after_its_cancel(svc, workers, tmp_path):
    hold = tmp_path / "release"
    exp, _ = experiment(svc, tmp_path, "cancel", 60, hold, held_from=20)
    workers(2)
    run_id = operations.start_run(svc, exp)["id"]
    queue = pool.queue_for(svc.settings)
    wait_until(lambda: len(recorded(svc, run_id)) >= 20 and queue.live_shards(UUID(run_id)),
               message=lambda: logs(tmp_path))  # fmt: skip
    runs.cancel_run(svc, UUID(run_id))
    head = svc.app.recorder.max_notification_id()
    release(hold)  # the held shards finish now, after the cancel

    wait_until(lambda: not queue.live_shards(UUID(run_id)), message=lambda: logs(tmp_path))
    assert svc.app.recorder.max_notification_id() == head
    run = svc.app.get(Run, UUID(run_id), "run")
    assert run.status == "cancelled" and run.next_position == 20
    assert recorded(svc, run_id) == list(range(20))
    assert invariants.check(svc).ok


def test_two_runs_at_once_both_progress(svc, workers, tmp_path):
    big, _ = experiment(svc, tmp_path, "big", 300, sleep=0.02)
    small, _ = experiment(svc, tmp_path, "small", 30, sleep=0.02)
    workers(2)
    first = operations.start_run(svc, big)["id"]
    wait_until(lambda: recorded(svc, first), message=lambda: logs(tmp_path))
    second = operations.start_run(svc, small)["id"]

    # the small run started later gets its share of the workers: it ends while the big one still runs
    done = wait_until(lambda: (s := status(svc, second))["status"] == "completed" and s, message=lambda: logs(tmp_path))
    assert done["done_items"] == 30
    assert status(svc, first)["status"] == "running"
    final = wait_until(lambda: (s := status(svc, first))["status"] == "completed" and s, message=lambda: logs(tmp_path))
    assert final["done_items"] == 300


def test_workers_list_and_an_unmigrated_database(pool_env, workers, tmp_path):
    runner = CliRunner()
    refused = runner.invoke(cli, ["workers", "list"])
    assert refused.exit_code != 0 and pool.NOT_MIGRATED in refused.output
    proc = subprocess.run(
        [sys.executable, "-m", "agnt5_evals.cli.main", "worker"], env=pool_env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0 and pool.NOT_MIGRATED in proc.stderr

    assert runner.invoke(cli, ["db", "migrate"]).exit_code == 0
    again = runner.invoke(cli, ["db", "migrate", "--format", "json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["created"] == ["event store and read model"]
    workers(2)
    listed = json.loads(runner.invoke(cli, ["workers", "list", "--format", "json"]).stdout)
    assert sorted(w["name"] for w in listed) == ["w0", "w1"]
    assert all(w["heartbeat_age_s"] < 3 and w["shards"] == [] for w in listed)
    shown = runner.invoke(cli, ["workers", "list"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "w0" in shown.stdout and "w1" in shown.stdout and "heartbeat" in shown.stdout


def test_a_migrated_store_queues_runs_and_starts_a_worker_when_none_is_live(svc, tmp_path, monkeypatch):
    monkeypatch.delenv("AGNT5_EXECUTOR")  # auto: the pool, since the store is migrated for it
    exp, _ = experiment(svc, tmp_path, "auto", 30)
    with Services(Settings.from_env()) as auto:
        assert auto.queued
        run_id = operations.start_run(auto, exp)["id"]
        final = operations.wait_for_run(auto, run_id, timeout=120)
    assert final is not None and (final["status"], final["done_items"]) == ("completed", 30)
    assert svc.app.get(Run, UUID(run_id), "run").shard_size == 5
    burst = pool._launched[0]  # the worker started for it stops once the queue is empty
    assert burst.wait(timeout=120) == 0
    assert "the queue is empty, stopping" in (Path(svc.settings.home) / "logs" / "pool-worker.log").read_text()

    monkeypatch.setenv("AGNT5_EXECUTOR", "local")
    with Services(Settings.from_env()) as local:
        assert not local.queued


def test_the_janitor_queues_the_shards_of_pool_runs_only(svc, tmp_path, monkeypatch):
    """A run started for the worker pool is refilled by the janitor; one started by a local executor on the same
    store (its own process executes and resumes it) is never queued."""
    exp, _ = experiment(svc, tmp_path, "janitor", 10)
    pooled = svc.app.start_run(exp, "pooled").id  # recorded, never queued: a chain a crash broke
    monkeypatch.setenv("AGNT5_EXECUTOR", "local")
    with Services(Settings.from_env()) as local:
        assert not local.queued
        local_run = local.app.start_run(exp, "local").id
    runs_ = {r: svc.app.get(Run, r, "run") for r in (pooled, local_run)}
    assert (runs_[pooled].pooled, runs_[local_run].pooled) == (True, False)
    assert runs_[local_run].shard_size == 5  # sharded all the same
    worker = pool.PoolWorker(svc.settings, 1, "janitor-test")
    worker.services, worker.queue = svc, pool.queue_for(svc.settings)
    worker._reconcile()
    assert worker.queue.live_shards(pooled) == {0, 1}
    assert worker.queue.live_shards(local_run) == set()
    assert worker.queue.fill(runs_[local_run]) == []


def test_the_server_refuses_an_unmigrated_store_in_queue_mode(pool_env):
    served = CliRunner().invoke(cli, ["server", "--port", "0"])
    assert served.exit_code == 1 and pool.NOT_MIGRATED in served.output


def test_a_rescore_runs_in_the_pool(svc, workers, tmp_path):
    exp, _ = experiment(svc, tmp_path, "rescored", 20)
    workers(1)
    run_id = operations.start_run(svc, exp)["id"]
    assert (operations.wait_for_run(svc, run_id, timeout=120) or {}).get("status") == "completed"
    started = operations.start_rescore(svc, run_id, None, [], reason="again")
    final = wait_until(
        lambda: (r := operations.rescore_summary(svc, started["id"]))["status"] != "running" and r,
        message=lambda: logs(tmp_path),
    )
    assert final["status"] == "completed"
    wait_until(lambda: f"rescore:{started['id']}: completed" in logs(tmp_path), message=lambda: logs(tmp_path))
