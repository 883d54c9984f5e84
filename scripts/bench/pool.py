"""Worker pool benchmark (not a test): throughput of one run on 1, 2 and 3 ``agnt5 worker`` processes, on a
CPU-heavy scorer and on a 20 ms target, and the time to recover a killed worker's shards.

Each figure is a whole run as a user starts it (``operations.start_run`` queues its shards) until its last shard is
recorded, on PostgreSQL (AGNT5_BENCH_PG_URL), with the workers started and idle before the clock starts. Repeated
``--repeat`` times; medians, with the range. ``--write`` replaces the pool section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from common import PG_URL, ROOT, experiment, machine, write_docs

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.adapters.components import discover
from agnt5_evals.domain.model import Scorer
from agnt5_evals.domain.runs import Run
from agnt5_evals.services import operations
from agnt5_evals.worker import pool

TARGETS = """
import time
from agnt5_evals import component, scorer


@component("echo", type="function")
def echo(input):
    return input


@component("sleepy", type="function")
def sleepy(input):
    time.sleep(0.02)
    return input


@scorer("cpu_heavy")
def cpu_heavy(request):
    total = 0
    for i in range(request["input"]["work"]):  # pure Python: holds the interpreter, as a real scorer would
        total += (i * i) % 7
    return {"score": 1.0, "metadata": {"total": total}}
"""

CASES = {
    "cpu": {"component": "echo", "n": 600, "work": 400_000, "config": {"concurrency": 4, "shard_size": 50}},
    "sleep20": {"component": "sleepy", "n": 3000, "work": 0, "config": {"concurrency": 16, "shard_size": 100}},
}


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def start_workers(settings: Settings, n: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        out = (logs / f"worker-{i}.log").open("ab")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "agnt5_evals.cli.main", "worker", "--concurrency", "2", "--name", f"bench{i}"],
            env=env, stdout=out, stderr=out, start_new_session=True, cwd=ROOT,
        ))  # fmt: skip
    deadline = time.monotonic() + 60
    while len(pool.live_workers(settings)) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"{n} workers did not start; see {logs}")
        time.sleep(0.1)
    return procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=60)


def wait_recorded(svc: Services, run_id: UUID, n_shards: int | None = None, poll: float = 0.1) -> float:
    """Seconds until the run completed (or holds ``n_shards`` shards), reading its last events (no read model)."""
    while True:
        run = svc.app.get(Run, run_id, "run")
        if run.status == "completed" or (n_shards is not None and len(run.shards) >= n_shards):
            return time.perf_counter()
        if run.status != "running":
            raise SystemExit(f"run {run_id} ended {run.status}")
        time.sleep(poll)


def throughput(case: str, workers: int, repeat: int, work: Path) -> dict[str, Any]:
    spec = CASES[case]
    inputs = [{"n": n, "work": spec["work"]} for n in range(spec["n"])]
    walls = []
    with experiment("postgresql", work, TARGETS, spec["component"], inputs, spec["config"]) as (settings, exp):
        if case == "cpu":
            _use_cpu_scorer(settings, exp)
        migrated = pool.migrate(settings)
        assert "queue (procrastinate)" in migrated, migrated
        env = {**os.environ, "AGNT5_EXECUTOR": "queue", "AGNT5_SHARD_WINDOW": str(2 * workers)}
        os.environ.update(AGNT5_EXECUTOR="queue", AGNT5_SHARD_WINDOW=str(2 * workers))
        settings = Settings.from_env()
        procs = start_workers(settings, workers, env, Path(os.environ["AGNT5_HOME"]))
        try:
            with Services(settings) as svc:
                for _ in range(repeat):
                    before = load()
                    started = time.perf_counter()
                    run_id = UUID(operations.start_run(svc, exp)["id"])
                    walls.append(wait_recorded(svc, run_id) - started)
                    print(f"  {case} x{workers}: {walls[-1]:.2f} s (load before {before})", flush=True)
        finally:
            stop(procs)
            pool.close_queues()
    median = statistics.median(walls)
    return {"case": case, "workers": workers, "n": spec["n"], "wall": median, "range": (min(walls), max(walls)),
            "rate": spec["n"] / median, "load": load()}  # fmt: skip


def _use_cpu_scorer(settings: Settings, experiment_id: UUID) -> None:
    """Swap the experiment's scorer for the CPU-heavy custom scorer of the benchmark's module."""
    with Services(settings) as svc:
        app = svc.app
        home = os.environ["AGNT5_HOME"]
        dep = app.create_deployment("scorers", "bench_target", home, discover("bench_target", home))
        scorer = app.create_scorer("cpu_heavy", "", dep.id, "cpu_heavy")
        spec = app.get(Scorer, scorer.id, "scorer").spec()
        app.update_experiment(experiment_id, {"scorers": [{**spec, "key": spec["name"]}]})


def recovery(work: Path, heartbeat: float, stalled: float) -> dict[str, Any]:
    """Kill one of 3 workers while it runs shards; seconds until its shards are queued again and recorded."""
    spec = CASES["sleep20"]
    inputs = [{"n": n, "work": 0} for n in range(6000)]
    with experiment("postgresql", work, TARGETS, "sleepy", inputs, spec["config"]) as (settings, exp):
        pool.migrate(settings)
        knobs = {"AGNT5_EXECUTOR": "queue", "AGNT5_SHARD_WINDOW": "6", "AGNT5_WORKER_HEARTBEAT_S": str(heartbeat),
                 "AGNT5_WORKER_STALLED_S": str(stalled)}  # fmt: skip
        os.environ.update(knobs)
        settings = Settings.from_env()
        procs = start_workers(settings, 3, {**os.environ}, Path(os.environ["AGNT5_HOME"]))
        try:
            with Services(settings) as svc:
                run_id = UUID(operations.start_run(svc, exp)["id"])
                wait_recorded(svc, run_id, n_shards=10)
                victim: dict[str, Any] = {}
                while not victim:  # a worker running a shard that is not recorded yet
                    recorded_now = set(svc.app.get(Run, run_id, "run").shards)
                    victim = next((w for w in pool.live_workers(settings)
                                   if {s["shard"] for s in w["shards"]} - recorded_now), {})  # fmt: skip
                os.kill(victim["pid"], signal.SIGKILL)
                killed = time.perf_counter()
                queue = pool.queue_for(settings)
                lost = _doing_on(queue, victim) - set(svc.app.get(Run, run_id, "run").shards)  # not recorded
                requeued = recorded = None
                while requeued is None or recorded is None:
                    if requeued is None and not _doing_on(queue, victim):
                        requeued = time.perf_counter() - killed
                    if recorded is None and lost <= set(svc.app.get(Run, run_id, "run").shards):
                        recorded = time.perf_counter() - killed
                    time.sleep(0.05)
                print(f"  recovery {heartbeat:g}/{stalled:g}: {len(lost)} shards lost, queued again after "
                      f"{requeued:.1f} s, recorded after {recorded:.1f} s", flush=True)  # fmt: skip
                wait_recorded(svc, run_id)
        finally:
            stop([p for p in procs if p.pid != victim["pid"]])
            pool.close_queues()
    return {"heartbeat": heartbeat, "stalled": stalled, "requeued": requeued, "recorded": recorded, "lost": len(lost),
            "load": load()}  # fmt: skip


def _doing_on(queue: pool.Queue, victim: dict[str, Any]) -> set[int]:
    """Shards still marked running on the killed worker."""
    with queue.lock:
        rows = queue.conn.execute(
            "SELECT (j.args->>'shard')::int FROM procrastinate_jobs j JOIN agnt5_workers w"
            " ON w.pool_worker_id = j.worker_id WHERE j.status = 'doing' AND w.id = %s",
            (victim["id"],),
        ).fetchall()
    return {int(row[0]) for row in rows}


def table(results: list[dict[str, Any]], recoveries: list[dict[str, Any]]) -> str:
    lines = [
        "| case | items | workers | wall (median, range) | items/s | scaling | load after |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    base = {r["case"]: r["rate"] for r in results if r["workers"] == 1}
    names = {"cpu": "CPU-heavy scorer (pure Python)", "sleep20": "20 ms target"}
    for r in results:
        low, high = r["range"]
        scaling = f"{r['rate'] / base[r['case']]:.2f}x" if r["case"] in base else ""  # no 1-worker figure to divide by
        lines.append(f"| {names[r['case']]} | {r['n']:,} | {r['workers']} | {r['wall']:.2f} s ({low:.2f}-{high:.2f}) "
                     f"| {r['rate']:,.0f} | {scaling} | {r['load']} |")  # fmt: skip
    lines += ["", "| heartbeat / stalled threshold | shards lost with the worker | queued again after | recorded after "
              "| load after |", "|---|---:|---:|---:|---|"]  # fmt: skip
    for r in recoveries:
        lines.append(f"| {r['heartbeat']:g} s / {r['stalled']:g} s | {r['lost']} | {r['requeued']:.1f} s "
                     f"| {r['recorded']:.1f} s | {r['load']} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--cases", default="cpu,sleep20")
    parser.add_argument("--no-recovery", action="store_true")
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    print(f"{machine()}; PostgreSQL at {PG_URL}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="agnt5-bench-pool-"))
    results = [
        throughput(case, int(n), args.repeat, work) for case in args.cases.split(",") for n in args.workers.split(",")
    ]
    recoveries = [] if args.no_recovery else [recovery(work, 5, 15), recovery(work, 1, 4)]
    text = table(results, recoveries)
    print(text)
    if args.write:
        write_docs(text, "pool")


if __name__ == "__main__":
    main()
