"""Issue 9: real processes killed with SIGKILL at seeded random points (a worker, the CLI during upload, publish
and rebuild, the REST server during a run), two writers on one draft, a rebuild under readers and writers. After
each, the invariant checker (services/invariants.py) must find the store intact, on SQLite and PostgreSQL.

Quick by default; ``AGNT5_RELIABILITY_LONG=1`` (``scripts/reliability --long``) runs more seeds and bigger runs.
Each test appends its figures to build/reliability/figures.jsonl, which ``scripts/reliability`` summarises.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.adapters.components import discover
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.projections import queries
from agnt5_evals.worker.dispatch import CHUNK_ITEMS
from agnt5_evals.worker.worker import launch
from tests.reliability.harness import (
    COUNTER,
    LONG,
    agnt5,
    checked,
    exactly_once,
    free_port,
    lines,
    poll,
    record_figures,
    seeds,
    sigkill,
    spawn,
    stored,
)
from tests.support import definition, release, wait_until

CONCURRENCY = 8
WINDOW = max(2 * CHUNK_ITEMS, 4 * CONCURRENCY)  # worker/dispatch.py: how far past the watermark items are taken


def counter_experiment(svc: Services, agent_dir: Path, log: Path, n_items: int, sleep: float = 0.0,
                       hold: Path | None = None, held_from: int = 0) -> UUID:  # fmt: skip
    """An experiment over ``n_items`` items of the counter component (one line in ``log`` per execution); items
    from ``held_from`` on wait for ``hold`` when it is given."""
    (agent_dir / "counter_agent.py").write_text(textwrap.dedent(COUNTER))
    app = svc.app
    ds = app.create_dataset("kills").id
    held = {"hold": str(hold)} if hold else {}
    app.add_items(ds, [{"input": {"n": n, "log": str(log), "sleep": sleep, **(held if n >= held_from else {})},
                        "expected_output": {"n": n}} for n in range(n_items)])  # fmt: skip
    version = app.publish(ds).id
    dep = app.create_deployment("counter", "counter_agent", str(agent_dir), discover("counter_agent", str(agent_dir)))
    spec = definition(ds, version, dep.id, "exact_match", concurrency=CONCURRENCY)
    spec["target"].update(component_name="counter", component_type="function")
    return app.create_experiment("kills", "", spec).id


# -- the worker --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", seeds(1, 6))
def test_a_worker_killed_at_random_points_resumes_with_every_item_recorded_once(
    services: Services, agent_dir: Path, tmp_path: Path, store: str, seed: int
) -> None:
    """Each kill loses only the items executed past the recorded watermark (in flight, or finished after the first
    unrecorded position), at most the dispatch window; nothing recorded runs again, and nothing else does."""
    rng = random.Random(seed)
    n_items, kills = (rng.randint(1500, 3000), 3) if LONG else (rng.randint(200, 400), 2)
    log, settings = tmp_path / "executions.log", Settings.from_env()
    run_id = services.app.start_run(counter_experiment(services, agent_dir, log, n_items, sleep=0.004)).id
    lost: list[int] = []
    for _ in range(kills):
        offset, watermark = len(lines(log)), stored(services, run_id).next_position
        at = offset + rng.randint(1, max(1, (n_items - watermark) * 3 // 4))  # the execution that triggers the kill
        worker = launch(run_id, settings)
        poll(lambda at=at, worker=worker: len(lines(log)) >= at or worker.poll() is not None, message="no item ran")
        if not sigkill(worker):
            break  # it finished first
        watermark = stored(services, run_id).next_position
        lost.append(sum(1 for n in lines(log)[offset:] if n >= watermark))  # executed, never recorded
    resumed = agnt5("worker", "--once")
    assert f"resuming run {run_id}" in resumed.stderr or stored(services, run_id).status == "completed"

    executions = Counter(lines(log))
    intact = exactly_once(services, run_id, n_items)
    record_figures(test="worker-sigkill", store=store, seed=seed, items=n_items, kills=len(lost), intact=intact,
                   reexecuted=lost, window=WINDOW)  # fmt: skip
    assert intact
    assert set(executions) == set(range(n_items))
    assert sum(executions.values()) == n_items + sum(lost)  # no item ran again but those lost at a kill
    assert max(lost, default=0) <= WINDOW
    checked()


# -- the CLI -----------------------------------------------------------------------------------------------


def log_head(svc: Services) -> int:
    return svc.app.recorder.max_notification_id() or 0


def draft_size(svc: Services, dataset: UUID) -> int:
    svc.catch_up()
    return int(queries.dataset(svc.view, str(dataset))["draft_items"])


def jsonl(path: Path, n_items: int, tag: str) -> Path:
    rows = (json.dumps({"input": {"tag": tag, "n": n}, "expected_output": n}) for n in range(n_items))
    path.write_text("\n".join(rows))
    return path


def generation_taken(svc: Services) -> int:
    """The next generation number a rebuild would take (a rebuild that began has taken one)."""
    view = svc.view
    with view.datastore.transaction(commit=False) as cursor:
        view.execute(cursor, f"SELECT next FROM {view.base}generation WHERE id = 1")
        row = cursor.fetchone()
    return 0 if row is None else int(row["next"])


def kill_at_random(proc: subprocess.Popen[str], started: Any, rng: random.Random) -> bool:
    """Once the command has begun writing (``started``), let it go on for a random moment, then SIGKILL it."""
    poll(lambda: started() or proc.poll() is not None, message="the command never began")
    time.sleep(rng.uniform(0, 0.4))
    return sigkill(proc)


@pytest.mark.parametrize("seed", seeds(1, 4))
@pytest.mark.parametrize("command", ["upload", "publish", "rebuild"])
def test_a_cli_command_killed_at_a_random_point_is_all_or_nothing(
    services: Services, tmp_path: Path, store: str, command: str, seed: int
) -> None:
    rng = random.Random(f"{command}-{seed}")
    n_items = rng.randint(10_000, 30_000) if LONG else rng.randint(1_000, 2_000)
    app = services.app
    dataset = app.create_dataset("killed").id
    app.add_items(dataset, [{"input": {"base": n}} for n in range(3)])
    head = log_head(services)
    if command == "upload":
        proc = spawn("datasets", "upload", str(dataset), "--file", str(jsonl(tmp_path / "big.jsonl", n_items, "a")))
        killed = kill_at_random(proc, lambda: log_head(services) > head, rng)
        applied = draft_size(services, dataset) - 3
        assert applied in (0, n_items)
        checked()
        agnt5("datasets", "upload", str(dataset), "--file", str(tmp_path / "big.jsonl"))
        assert draft_size(services, dataset) == 3 + n_items * (2 if applied else 1)
    elif command == "publish":
        app.add_items(dataset, [{"input": {"n": n}} for n in range(n_items)])
        proc = spawn("datasets", "publish", str(dataset))
        killed = kill_at_random(proc, lambda: log_head(services) > head, rng)
        services.catch_up()
        versions = queries.dataset_versions(services.view, str(dataset))
        applied = len(versions)
        assert [v["n_items"] for v in versions] in ([], [3 + n_items])
        checked()
        if not applied:
            agnt5("datasets", "publish", str(dataset))
        assert [v["n_items"] for v in queries.dataset_versions(services.view, str(dataset))] == [3 + n_items]
    else:
        app.add_items(dataset, [{"input": {"n": n}} for n in range(n_items)])
        app.publish(dataset)
        before = generation_taken(services)
        proc = spawn("projections", "rebuild")
        killed = kill_at_random(proc, lambda: generation_taken(services) > before, rng)
        applied = int(services.view.refresh() >= before)  # the killed rebuild switched before it died
        assert draft_size(services, dataset) == 3 + n_items
        checked()
        agnt5("projections", "rebuild")
        assert draft_size(services, dataset) == 3 + n_items
    result = checked()
    record_figures(test="cli-sigkill", store=store, seed=seed, command=command, items=n_items, killed=killed,
                   applied=bool(applied), intact=result["ok"])  # fmt: skip


def test_two_writers_on_one_draft_each_apply_whole_or_not_at_all(
    services: Services, tmp_path: Path, store: str
) -> None:
    for seed in seeds(1, 3):
        rng = random.Random(seed)
        dataset = services.app.create_dataset(f"two-writers-{seed}").id
        services.app.add_items(dataset, [{"input": {"base": n}} for n in range(2)])
        sizes = [rng.randint(600, 4_000 if LONG else 1_500) for _ in range(2)]
        files = [jsonl(tmp_path / f"w{seed}-{k}.jsonl", size, f"writer-{k}") for k, size in enumerate(sizes)]
        writers = [spawn("datasets", "upload", str(dataset), "--file", str(path)) for path in files]
        outcomes = [(proc.wait(timeout=300), proc.stderr.read() if proc.stderr else "") for proc in writers]
        applied = 0
        for (code, err), size in zip(outcomes, sizes, strict=True):
            assert code == 0 or (code == 1 and "another writer" in err), err
            applied += size if code == 0 else 0
        assert applied > 0  # one of them always wins
        assert draft_size(services, dataset) == 2 + applied  # never a part of one
        result = checked()
        record_figures(test="two-writers", store=store, seed=seed, items=sum(sizes),
                       applied=[code == 0 for code, _ in outcomes], intact=result["ok"])  # fmt: skip


# -- the server --------------------------------------------------------------------------------------------


def test_a_server_killed_during_a_run_it_started_leaves_the_run_to_complete(
    services: Services, agent_dir: Path, tmp_path: Path, store: str
) -> None:
    log, go = tmp_path / "executions.log", tmp_path / "go"
    n_items, held_from = 120, 60
    experiment = counter_experiment(services, agent_dir, log, n_items, hold=go, held_from=held_from)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "agnt5_evals.api.main:create_app", "--factory", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until(lambda: _answers(f"{base}/experiments"), message="the server did not come up")
        response = httpx.post(f"{base}/experiments/{experiment}/runs", json={}, timeout=60)
        assert response.status_code == 202, response.text
        run_id = UUID(response.json()["id"])
        poll(lambda: stored(services, run_id).next_position >= held_from, message="the run did not get half-way")
    finally:
        killed = sigkill(server)
    assert killed
    release(go)
    agnt5("worker", "--once")  # a no-op when the server's worker (its own session) lived on, as it does
    wait_until(lambda: stored(services, run_id).status == "completed", message="the run did not complete")
    intact = exactly_once(services, run_id, n_items)
    record_figures(test="server-sigkill", store=store, items=n_items, kills=1, intact=intact,
                   reexecuted=[sum(Counter(lines(log)).values()) - n_items])  # fmt: skip
    assert intact
    assert Counter(lines(log)) == Counter(range(n_items))  # the worker outlived the server: nothing ran twice
    checked()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


# -- a rebuild under readers and writers -------------------------------------------------------------------


def test_rebuilds_under_readers_and_writers_keep_every_answer_and_end_intact(
    services: Services, agent_dir: Path, tmp_path: Path, store: str
) -> None:
    """A worker process records a run, a writer creates datasets, a reader reads both, and `projections rebuild`
    runs twice meanwhile: the reader never misses what it saw before, and the checker finds the store intact."""
    n_items = 4000 if LONG else 800
    log, settings = tmp_path / "executions.log", Settings.from_env()
    run_id = services.app.start_run(counter_experiment(services, agent_dir, log, n_items, sleep=0.002)).id
    stop, failures, written, reads = threading.Event(), list[str](), [0], [0]

    def write() -> None:
        with Services(settings) as writer:
            while not stop.is_set():
                ds = writer.app.create_dataset(f"during-{written[0]}")
                writer.app.add_items(ds.id, [{"input": {"w": written[0], "i": i}} for i in range(5)])
                written[0] += 1

    def read() -> None:
        with Services(settings) as reader:
            seen_datasets = seen_done = 0
            while not stop.is_set():
                try:
                    listed, done = len(queries.datasets(reader.view)), queries.run(reader.view, str(run_id))["done"]
                except NotFound as exc:
                    failures.append(str(exc))
                    continue
                if listed < seen_datasets or done < seen_done:
                    failures.append(f"went back: {listed} < {seen_datasets} datasets or {done} < {seen_done} done")
                seen_datasets, seen_done = max(listed, seen_datasets), max(done, seen_done)
                reads[0] += 1

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    worker = launch(run_id, settings)
    for thread in threads:
        thread.start()
    try:
        for _ in range(2):
            agnt5("projections", "rebuild")
        wait_until(lambda: worker.poll() is not None, message="the worker did not finish")
        target = reads[0] + 5
        wait_until(lambda: reads[0] >= target or failures, message="the reader stopped reading")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert written[0] > 0
    assert exactly_once(services, run_id, n_items)
    result = checked()
    record_figures(test="rebuild-under-load", store=store, items=n_items, rebuilds=2, intact=result["ok"])
