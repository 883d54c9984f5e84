"""Reads on a finished big run: the REST reads a dashboard or the Studio makes, timed with p50/p99.

    scripts/bench/reads [--items 100000] [--store sqlite|postgresql] [--home DIR] [--repeat 20] [--clients 10]
                        [--only NAME ...]

Builds (or, with ``--home`` naming a directory built before, reuses) a store holding two finished runs of one
experiment over the same N-item dataset version: a component that echoes its input, but garbles about 10% of them
(a random number of characters) and raises on about 1%; scored by ``exact_match`` and ``levenshtein`` (threshold
0.95: a continuous score). So each run has about 10% failed and 1% errored items, and the two runs differ in
about 20% of their items (flips for the comparison). Each run is started as ``agnt5 experiments run --wait`` starts
it (a standby worker).

Then the API server runs in a subprocess (uvicorn, as ``scripts/serve``) and each read is timed from the client:
after a warm-up request, ``--repeat`` requests one after another (p50, p99), then ``--clients`` threads each making
``--repeat`` requests at once (p50, p99 over all of them). A read whose first timed request takes more than
``--slow`` seconds is timed ``--slow-repeat`` times one after another and not under concurrency (it would only
measure a queue).

``--home DIR`` keeps the store (and, on PostgreSQL, its schema) for the next invocation: build once, then measure
before and after a change. Without it, a temporary store is built and removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
from common import PG_URL, _pg_schema, create_experiment, machine, write_docs

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.projections import queries
from agnt5_evals.services import operations
from agnt5_evals.worker.standby import standby

NOISY = '''import random

from agnt5_evals import component


@component("noisy")
def noisy(input):
    """Echo, but garble about 10% of the inputs and raise on about 1%."""
    r = random.random()
    if r < 0.01:
        raise RuntimeError("a deliberate error of the benchmark")
    if r < 0.11:
        text = list(input["text"])
        for _ in range(random.randint(1, 12)):
            text[random.randrange(len(text))] = "#"
        return {**input, "text": "".join(text)}
    return input
'''
SCORERS = ["exact_match", '{"name": "levenshtein", "config": {"threshold": 0.95}}']
STATE = "reads.json"

CURSOR = 50_000  # the position a next page starts after: deep into the run, as a client paging through it
# (name, path): the reads issue 16 budgets, each as a REST client makes it: the run summary, the gate, a page of
# items of one status (the first, and one after a cursor), a page of failures (likewise), a page of scores and a
# comparison with the first page of flips
READS: list[tuple[str, Callable[[dict[str, str]], str]]] = [
    ("run summary", lambda ids: f"/runs/{ids['b']}"),
    ("gate", lambda ids: f"/runs/{ids['b']}/gate"),
    ("items errored (limit 50)", lambda ids: f"/runs/{ids['b']}/items?status=errored&limit=50"),
    ("items failed (limit 50)", lambda ids: f"/runs/{ids['b']}/items?status=failed&limit=50"),
    ("items failed (limit 50, after)", lambda ids: f"/runs/{ids['b']}/items?status=failed&limit=50&after={CURSOR}"),
    ("failures (limit 50)", lambda ids: f"/runs/{ids['b']}/failures?limit=50"),
    ("failures (limit 50, after)", lambda ids: f"/runs/{ids['b']}/failures?limit=50&after={CURSOR}"),
    ("scores (page 1 of 50)", lambda ids: f"/scores?run_id={ids['b']}&page=1&page_size=50"),
    ("scores (page 2000 of 50)", lambda ids: f"/scores?run_id={ids['b']}&page=2000&page_size=50"),
    ("scores (50, after)", lambda ids: f"/scores?run_id={ids['b']}&page=1&page_size=50&after={ids['score_cursor']}"),
    ("compare (limit 20)", lambda ids: f"/runs/{ids['a']}/compare/{ids['b']}?limit=20"),
]


def _inputs(n: int) -> list[dict[str, Any]]:
    words = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
    return [{"n": i, "text": f"item {i}: " + " ".join(words[: 2 + i % 7])} for i in range(n)]


def _run(settings: Settings, experiment_id: UUID, name: str) -> tuple[str, float]:
    """One run started as ``experiments run --wait`` starts it, waited for; its id and seconds."""
    started = time.perf_counter()
    with standby(settings=settings, experiment_id=experiment_id) as worker, Services(settings) as svc:
        run_id = operations.start_run(svc, experiment_id, name, standby=worker)["id"]
        summary = operations.wait_for_run(svc, run_id, timeout=7200)
        assert summary is not None and summary["status"] == "completed", summary
    return str(run_id), time.perf_counter() - started


def build(home: Path, store: str, n: int) -> dict[str, Any]:
    """A store in ``home`` with two finished ``n``-item runs of one experiment; what names them."""
    home.mkdir(parents=True, exist_ok=True)
    schema = _pg_schema() if store == "postgresql" else ""
    url = f"{PG_URL}?schema={schema}" if schema else ""
    os.environ["AGNT5_HOME"], os.environ["AGNT5_DATABASE_URL"] = str(home), url
    (home / "bench_target.py").write_text(NOISY)
    settings = Settings.from_env()
    started = time.perf_counter()
    with Services(settings) as svc:
        exp_id = create_experiment(svc, home, "noisy", _inputs(n), {"concurrency": 8}, SCORERS)
    print(f"dataset and experiment of {n:,} items: {time.perf_counter() - started:.1f} s", flush=True)
    a, a_s = _run(settings, exp_id, "reads-a")
    print(f"run a {a}: {a_s:.1f} s", flush=True)
    b, b_s = _run(settings, exp_id, "reads-b")
    print(f"run b {b}: {b_s:.1f} s", flush=True)
    state = {"store": store, "items": n, "database_url": url, "schema": schema, "experiment": str(exp_id),
             "a": a, "b": b}  # fmt: skip
    with Services(settings) as svc:
        run = queries.run(svc.view, b)
        state["dataset_id"], state["dataset_version_id"] = run["dataset_id"], run["dataset_version_id"]
        first = svc.view.query("SELECT id FROM {p}run_items WHERE run_id = ? AND position = 0", (b,))
        state["first_item"] = first[0]["id"]
    (home / STATE).write_text(json.dumps(state, indent=2))
    return state


def open_state(home: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((home / STATE).read_text())
    os.environ["AGNT5_HOME"], os.environ["AGNT5_DATABASE_URL"] = str(home), state["database_url"]
    return state


def drop(state: dict[str, Any]) -> None:
    if state.get("schema"):
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{state["schema"]}" CASCADE')


def catch_up(home: Path, state: dict[str, Any]) -> float:
    """Open the store once (a new read model version rebuilds here, not in the first timed request); note the
    score a cursor of the scores starts after (the last of the item at ``CURSOR``)."""
    started = time.perf_counter()
    with Services(Settings.from_env()) as svc:
        svc.catch_up()
        sql = ("SELECT id FROM {p}scores WHERE run_id = ? AND is_current = 1 AND position = ? "
               "ORDER BY scorer_index DESC, id DESC LIMIT 1")  # fmt: skip
        state["score_cursor"] = svc.view.query(sql, (state["b"], CURSOR))[0]["id"]
    return time.perf_counter() - started


def quantile(times: list[float], q: int) -> float:
    """The ``q``th percentile in ms (inclusive: the max is the 100th)."""
    if len(times) == 1:
        return times[0] * 1000
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1] * 1000


def _get(http: httpx.Client, path: str) -> tuple[float, httpx.Response]:
    sent = time.perf_counter()
    response = http.get(path)
    elapsed = time.perf_counter() - sent
    if not response.is_success:
        raise SystemExit(f"GET {path}: {response.status_code} {response.text[:500]}")
    return elapsed, response


def _size(body: Any) -> str:
    return f"{len(body)} rows" if isinstance(body, list) else "object"


def measure(base: str, path: str, repeat: int, clients: int, slow: float, slow_repeat: int) -> dict[str, Any]:
    """One read: sequential and concurrent latencies (ms), and what it answered. A read slower than ``slow``
    seconds is made ``slow_repeat`` times (one after another, and by each client) instead of ``repeat``."""
    with httpx.Client(base_url=base, timeout=600) as http:
        _get(http, path)  # a warm-up (the first read of a table after the server starts pays for the cache)
        first, response = _get(http, path)
        body = response.json()
        count = repeat if first <= slow else slow_repeat
        seq = [first] + [_get(http, path)[0] for _ in range(count - 1)]
    out: dict[str, Any] = {"answer": _size(body), "bytes": len(response.content), "sequential": seq, "concurrent": []}
    if clients < 1:
        return out
    times: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=base, timeout=600) as http:
            http.get(path)  # its connection is open before the clock starts
            mine = [_get(http, path)[0] for _ in range(count)]
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out["concurrent"] = times
    return out


def _cells(got: dict[str, Any]) -> list[str]:
    seq, conc = got["sequential"], got["concurrent"]
    figures = [f"{quantile(seq, 50):,.1f} / {quantile(seq, 99):,.1f}"]
    return [*figures, f"{quantile(conc, 50):,.1f} / {quantile(conc, 99):,.1f}" if conc else "-"]


def table(state: dict[str, Any], results: list[tuple[str, dict[str, Any], dict[str, Any] | None]],
          args: argparse.Namespace, load: str) -> str:  # fmt: skip
    """The figures as a Markdown table: after (and before, when measured) side by side."""
    paired = any(before is not None for _, _, before in results)
    head = ["read", "sequential n"]
    head += ["before seq p50 / p99", "after seq p50 / p99"] if paired else ["seq p50 / p99"]
    head += [f"before {args.clients} clients", f"after {args.clients} clients"] if paired else [
        f"{args.clients} clients p50 / p99"]  # fmt: skip
    lines = [
        f"{state['store']}, {state['items']:,} items, ms; {args.workers} server process(es); "
        f"{args.clients} clients x {args.repeat} requests (x {args.slow_repeat} when a request takes over "
        f"{args.slow} s); load average (1, 5, 15 min) before / after: {load}.",
        "",
        "| " + " | ".join([*head, "answer"]) + " |",
        "|---|" + "---:|" * (len(head) - 1) + "---|",
    ]
    for name, after, before in results:
        a, b = _cells(after), _cells(before) if before is not None else None
        cells = [name, str(len(after["sequential"]))]
        cells += [b[0], a[0], b[1], a[1]] if b is not None else a
        lines.append("| " + " | ".join([*cells, f"{after['answer']}, {after['bytes']:,} B"]) + " |")
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--home", type=Path, help="keep the store here (reused when it holds a build)")
    parser.add_argument("--repeat", type=int, default=20, help="requests per read (and per client)")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--slow", type=float, default=0.5, help="seconds: a slower read is made --slow-repeat times")
    parser.add_argument("--slow-repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=[], help="only the reads whose names start with these")
    parser.add_argument("--before", help="a directory holding another checkout as agnt5_evals (PYTHONPATH): "
                        "each read is timed on its server, then on this code's (paired, interleaved)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1, help="uvicorn server processes (both servers)")
    parser.add_argument("--write-docs", action="store_true", help="write the table to docs/benchmarks.md")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from load import serve  # the API server as scripts/serve runs it (a subprocess)

    with tempfile.TemporaryDirectory() as work:
        home = args.home or Path(work) / "store"
        if (home / STATE).exists():
            state = open_state(home)
            print(f"reusing the store in {home}: {state['store']}, {state['items']:,} items", flush=True)
        else:
            state = build(home, args.store, args.items)
        try:
            print(f"catch-up on open: {catch_up(home, state):.1f} s", flush=True)
            if args.build_only:
                return
            settings, load = Settings.from_env(), _load()
            results: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
            with contextlib.ExitStack() as stack:
                base = stack.enter_context(serve(settings, Path(work) / "server.log", None, args.workers))
                old = (stack.enter_context(serve(settings, Path(work) / "old.log", args.before, args.workers))
                       if args.before else "")  # fmt: skip
                for name, path in READS:
                    if args.only and not any(name.startswith(o) for o in args.only):
                        continue
                    timed = (args.repeat, args.clients, args.slow, args.slow_repeat)
                    before = measure(old, path(state), *timed) if old else None
                    results.append((name, measure(base, path(state), *timed), before))
                    print(name, *_cells(results[-1][1]), *(_cells(before) if before else []), flush=True)
            out = table(state, results, args, f"{load} / {_load()}")
            print(f"\n{out}\n\n{machine()}")
            if args.write_docs:
                write_docs(f"{out}\n\nReproduce: `{' '.join(['scripts/bench/reads', *sys.argv[1:]])}`",
                           f"reads-{state['store']}-{args.workers}")  # fmt: skip
        finally:
            if args.home is None:
                drop(state)


if __name__ == "__main__":
    main()
