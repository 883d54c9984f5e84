"""Reads under load: C API clients read while a run of N items writes; nothing lost, latency per endpoint.

    scripts/bench/load [--items 10000] [--clients 20] [--latency-ms 20] [--concurrency 32]
                       [--stores sqlite postgresql] [--write-docs]

On a fresh store (SQLite, or a fresh schema on PostgreSQL) holding a published N-item dataset and a component that
sleeps ``latency-ms``, the API server runs in a subprocess (uvicorn, as ``scripts/serve``). A first run of all
items, started through the API, goes alone (the baseline); a second one goes while C clients read as fast as they
can: a mix of experiment lists, run summaries, items, failures, scores, the gate and a comparison with the first
run. Reported: requests, errors (any non-2xx) and p50/p95/p99/max latency per endpoint and overall, throughput,
and each run's wall time (its recorded start to its recorded end).

Then nothing may be lost: both runs completed with every item recorded once and scored once, the final summary's
counters equal the counts of the items listing, and no client ever saw a run go backwards (its recorded count and
the length of its items listing never decrease). Exits 1 when anything is lost or any request failed.

``tests/reliability/test_load.py`` runs the same harness with small numbers on both stores.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from common import create_experiment, experiment, machine, write_docs

from agnt5_evals.adapters.bootstrap import Services, Settings

SLEEPER = (
    "import time\nfrom agnt5_evals import component\n\n\n@component('sleeper')\ndef sleeper(input):\n"
    "    time.sleep(input['ms'] / 1000)\n    return input\n"
)
TERMINAL = ("completed", "failed", "cancelled")
RUN_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Ids:
    experiment: str
    run: str
    base: str = ""  # an earlier run of the experiment, for the comparison


# (name, weight, path): what a dashboard or a CI job polling a run asks for, the cheap questions most often
MIX: list[tuple[str, int, Callable[[Ids], str]]] = [
    ("list experiments", 2, lambda ids: "/experiments"),
    ("run summary", 4, lambda ids: f"/runs/{ids.run}"),
    ("experiment runs", 1, lambda ids: f"/experiments/{ids.experiment}/runs"),
    ("gate", 1, lambda ids: f"/runs/{ids.run}/gate"),
    ("run items", 1, lambda ids: f"/runs/{ids.run}/items"),
    ("failures", 1, lambda ids: f"/runs/{ids.run}/failures"),
    ("scores", 1, lambda ids: f"/scores?run_id={ids.run}"),
    ("compare", 1, lambda ids: f"/runs/{ids.base}/compare/{ids.run}"),
]


@dataclass
class Reads:
    """What the clients saw: latencies per endpoint, errors, and every time a run seemed to go backwards."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    backwards: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, seconds: float, error: str = "") -> None:
        with self.lock:
            self.latencies.setdefault(name, []).append(seconds)
            if error:
                self.errors.setdefault(name, []).append(error)

    @property
    def requests(self) -> int:
        return sum(len(times) for times in self.latencies.values())

    @property
    def error_count(self) -> int:
        return sum(len(errors) for errors in self.errors.values())


@dataclass
class Outcome:
    """One store's measurement: the two runs' wall times, the reads, and what was lost (nothing, we hope)."""

    store: str
    items: int
    clients: int
    alone_s: float
    loaded_s: float
    reads: Reads
    problems: list[str]
    load_before: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(settings: Settings, log: Path, pythonpath: str | None = None, workers: int = 1) -> Iterator[str]:
    """The API server over ``settings``' store in a subprocess, as ``scripts/serve`` starts it; its base URL.
    ``pythonpath``: import the package from there (another checkout's code, for a paired before/after);
    ``workers``: uvicorn's server processes (each with its own background catch-up)."""
    port = free_port()
    env = {**os.environ, "AGNT5_HOME": str(settings.home), "AGNT5_DATABASE_URL": settings.database_url}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    command = [sys.executable, "-m", "uvicorn", "agnt5_evals.api.main:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--workers", str(workers)]  # fmt: skip
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 120
        while not _answers(base):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/experiments", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def prepare(svc: Services, items: int, latency_ms: float, concurrency: int) -> UUID:
    """The benchmark's experiment in ``svc``'s store: the sleeper over ``items`` items; its id."""
    svc.settings.home.mkdir(parents=True, exist_ok=True)  # a PostgreSQL store keeps nothing there itself
    (svc.settings.home / "bench_target.py").write_text(SLEEPER)
    inputs = [{"n": i, "ms": latency_ms} for i in range(items)]
    return create_experiment(svc, svc.settings.home, "sleeper", inputs, _config(concurrency))


def _config(concurrency: int) -> dict[str, Any]:
    return {"concurrency": concurrency, "timeout_s": 60}


def start_run(http: httpx.Client, experiment_id: str, name: str) -> str:
    """Start a run through the API (its worker is a process the server starts); the run's id."""
    response = http.post(f"/experiments/{experiment_id}/runs", json={"name": name})
    response.raise_for_status()
    return str(response.json()["id"])


def wait_alone(http: httpx.Client, run_id: str) -> dict[str, Any]:
    """Poll the run's summary as often as ``experiments run --wait`` does (every 0.1 s) until it ends."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        summary: dict[str, Any] = http.get(f"/runs/{run_id}").raise_for_status().json()
        if summary["status"] in TERMINAL:
            return summary
        time.sleep(0.1)
    raise RuntimeError(f"run {run_id} did not end within {RUN_TIMEOUT_S:g} s")


def span(summary: dict[str, Any]) -> float:
    """The run's wall time: its recorded start to its recorded end."""
    started, finished = (datetime.fromisoformat(summary[key]) for key in ("created_at", "finished_at"))
    return (finished - started).total_seconds()


def read_until_done(base: str, ids: Ids, clients: int, skip: tuple[str, ...] = (), seed: int = 0) -> Reads:
    """``clients`` threads, each with its own connection, reading the mix (but ``skip``) until one of them sees the
    run end."""
    reads, done = Reads(), threading.Event()
    mix = [entry for entry in MIX if (ids.base or entry[0] != "compare") and entry[0] not in skip]
    started = time.perf_counter()
    threads = [threading.Thread(target=_client, args=(base, ids, mix, reads, done, seed + n)) for n in range(clients)]
    for thread in threads:
        thread.start()
    done.wait(RUN_TIMEOUT_S)
    done.set()
    for thread in threads:
        thread.join()
    reads.seconds = time.perf_counter() - started
    return reads


def _client(base: str, ids: Ids, mix: list[tuple[str, int, Callable[[Ids], str]]], reads: Reads,
            done: threading.Event, seed: int) -> None:  # fmt: skip
    """One client: a random request of the mix after another, checking that the run never goes backwards."""
    rng, seen = random.Random(seed), {"run summary": -1, "run items": -1}
    names, weights = [m[0] for m in mix], [m[1] for m in mix]
    paths = {name: path for name, _, path in mix}
    with httpx.Client(base_url=base, timeout=120) as http:
        while not done.is_set():
            name = rng.choices(names, weights)[0]
            sent = time.perf_counter()
            try:
                response = http.get(paths[name](ids))
            except httpx.HTTPError as exc:
                reads.add(name, time.perf_counter() - sent, f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - sent
            if not response.is_success:
                reads.add(name, elapsed, f"{response.status_code}: {response.text[:200]}")
                continue
            reads.add(name, elapsed)
            _progress(name, response.json(), seen, reads, done)


def _progress(name: str, body: Any, seen: dict[str, int], reads: Reads, done: threading.Event) -> None:
    """Note the run's recorded count (summary) or listed items; a smaller one than this client saw is a loss."""
    if name == "run summary":
        count = int(body["done_items"])
        if body["status"] in TERMINAL:
            done.set()
    elif name == "run items":
        count = len(body)
    else:
        return
    if count < seen[name]:
        with reads.lock:
            reads.backwards.append(f"{name}: {seen[name]} then {count}")
    seen[name] = max(seen[name], count)


def lost(http: httpx.Client, run_id: str, items: int) -> list[str]:
    """What the run lost or invented: every item recorded once and scored once, counters equal to the rows."""
    summary = http.get(f"/runs/{run_id}").raise_for_status().json()
    listed = http.get(f"/runs/{run_id}/items").raise_for_status().json()
    scores = http.get("/scores", params={"run_id": run_id}).raise_for_status().json()
    by_status = {status: sum(1 for item in listed if item["status"] == status) for status in ("passed", "failed",
                                                                                               "errored")}  # fmt: skip
    problems = []
    if summary["status"] != "completed":
        problems.append(f"run {run_id} is {summary['status']}: {summary['reason']}")
    if summary["total_items"] != items or summary["done_items"] != items:
        problems.append(f"{summary['done_items']} of {summary['total_items']} items done, {items} expected")
    if len(listed) != items or len({item["dataset_item_id"] for item in listed}) != items:
        problems.append(f"{len(listed)} items listed, {len({i['dataset_item_id'] for i in listed})} distinct")
    if sorted(item["position"] for item in listed) != list(range(items)):
        problems.append("the listed items' positions are not 0..N-1, each once")
    if by_status != {s: summary[f"{s}_items"] for s in by_status}:
        problems.append(f"summary counters {summary} differ from the listed items {by_status}")
    if len(scores) != items or len({score["run_item_id"] for score in scores}) != items:
        problems.append(f"{len(scores)} scores for {items} items")
    if summary["passed_items"] != items:
        problems.append(f"{summary['passed_items']} of {items} items passed (the sleeper echoes every input)")
    return problems


def measure(settings: Settings, experiment_id: UUID, items: int, clients: int, work: Path,
            skip: tuple[str, ...] = ()) -> Outcome:  # fmt: skip
    """Serve ``settings``' store, run the experiment alone, then again under ``clients`` readers; check both."""
    load_before = os.getloadavg()[0]
    with serve(settings, work / "server.log") as base, httpx.Client(base_url=base, timeout=120) as http:
        first = start_run(http, str(experiment_id), "alone")
        alone = wait_alone(http, first)
        ids = Ids(str(experiment_id), start_run(http, str(experiment_id), "under load"), base=first)
        reads = read_until_done(base, ids, clients, skip)
        loaded = wait_alone(http, ids.run)  # already ended: one client saw it
        problems = lost(http, first, items) + lost(http, ids.run, items) + reads.backwards
        problems += [f"{name}: {error}" for name, errors in reads.errors.items() for error in errors[:3]]
    return Outcome(settings.store, items, clients, span(alone), span(loaded), reads, problems, load_before)


def _ms(times: list[float], quantile: int) -> str:
    """The ``quantile``th percentile of ``times`` in ms (inclusive method: the max is the 100th)."""
    cuts = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
    return f"{cuts[quantile - 1] * 1000:.0f}"


def _row(name: str, times: list[float], errors: int) -> str:
    if not times:
        return f"| {name} | 0 | {errors} | | | | |"
    cells = " | ".join(_ms(times, q) for q in (50, 95, 99))
    return f"| {name} | {len(times):,} | {errors} | {cells} | {max(times) * 1000:.0f} |"


def table(outcome: Outcome) -> str:
    """The outcome as markdown: a line on the runs, then latency per endpoint and overall."""
    reads, slower = outcome.reads, outcome.loaded_s / outcome.alone_s
    verdict = "nothing lost" if not outcome.problems else f"{len(outcome.problems)} problems"
    lines = [
        f"**{outcome.store}** (load average {outcome.load_before:.2f} before): run of {outcome.items:,} items "
        f"{outcome.alone_s:.2f} s alone, {outcome.loaded_s:.2f} s under {outcome.clients} readers "
        f"(x{slower:.2f}); {reads.requests:,} requests in {reads.seconds:.1f} s "
        f"({reads.requests / reads.seconds:.0f}/s), {reads.error_count} errors; {verdict}.",
        "",
        "| endpoint | requests | errors | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, _, _ in MIX:
        if name in reads.latencies:
            lines.append(_row(name, reads.latencies[name], len(reads.errors.get(name, []))))
    every = [t for times in reads.latencies.values() for t in times]
    lines.append(_row("**all**", every, reads.error_count))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="how long the component sleeps per item")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=[name for name, _, _ in MIX],
        metavar="ENDPOINT",
        help="leave these endpoints out of the mix (quote names with spaces)",
    )
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    inputs = [{"n": i, "ms": args.latency_ms} for i in range(args.items)]
    outcomes = []
    with tempfile.TemporaryDirectory() as work:
        for store in args.stores:
            with experiment(store, Path(work), SLEEPER, "sleeper", inputs, _config(args.concurrency)) as setup:
                outcomes.append(measure(setup[0], setup[1], args.items, args.clients, Path(work), tuple(args.skip)))
            print(table(outcomes[-1]) + "\n", flush=True)
            for problem in outcomes[-1].problems[:20]:
                print(f"LOST: {problem}", file=sys.stderr)
    ideal = args.items * args.latency_ms / 1000 / args.concurrency
    head = (
        f"{args.items:,} items x {args.latency_ms:g} ms / concurrency {args.concurrency} (ideal "
        f"{ideal:.2f} s), {args.clients} clients" + (f", without {', '.join(args.skip)}." if args.skip else ".")
    )
    text = "\n\n".join([head, *(table(outcome) for outcome in outcomes)])
    print(f"machine: {machine()}")
    if args.write_docs:
        write_docs(text, "load")
    sys.exit(1 if any(outcome.problems for outcome in outcomes) else 0)


if __name__ == "__main__":
    main()
