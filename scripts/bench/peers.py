"""Side by side with Braintrust: the same items through ``agnt5 experiments run --wait`` and Braintrust's ``Eval``.

    scripts/bench/peers [--cases sqlite-10k sqlite-100k postgresql-100k latency] [--repeat 5] [--items N]
                        [--write-docs]

Each case runs, interleaved and paired (the order flips every repetition), our command as a user runs it on a
fresh store (the real console script; its detached worker included) and Braintrust's SDK (pinned, in a venv of its
own: ``VENV``, created if missing) running ``Eval(..., no_send_logs=True)`` locally with no API key, over the same
items with an exact-match scorer (autoevals ``ExactMatch``). Both are measured as whole process trees (wall, CPU,
peak RSS; ``common.process_tree``), and on PostgreSQL the server backends' CPU too. Per-item overhead follows the
issue's definition: (time at N items - time at 100 items) / (N - 100), each side with its own 100-item runs.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from common import PG_URL, byte_compile, cli_run, experiment, load, machine, process_tree, write_docs

BRAINTRUST, AUTOEVALS = "0.48.1", "0.4.1"
VENV = Path(os.environ.get("AGNT5_BENCH_PEERS_VENV", "/work/bench/peers-venv"))
ECHO = "from agnt5_evals import component\n\n\n@component('echo')\ndef echo(input):\n    return input\n"
SLEEPER = (
    "import time\nfrom agnt5_evals import component\n\n\n@component('sleeper')\ndef sleeper(input):\n"
    "    time.sleep(input['ms'] / 1000)\n    return input\n"
)
# Braintrust's side: the same items (input = expected), the same task, ExactMatch; nothing sent (no_send_logs).
BT_EVAL = """
import asyncio, sys
from autoevals import ExactMatch
from braintrust import Eval
n, ms, concurrency = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]) or None
async def sleeper(input):  # async: Braintrust's max_concurrency bounds coroutines; a sync task runs in few threads
    await asyncio.sleep(input["ms"] / 1000)
    return input
def echo(input):
    return input
task = sleeper if ms else echo
items = [{"input": {"n": i, "ms": ms} if ms else {"n": i}} for i in range(n)]
result = Eval("bench", data=lambda: [{**item, "expected": item["input"]} for item in items], task=task,
              scores=[ExactMatch()], no_send_logs=True, max_concurrency=concurrency)
passed = sum(1 for r in result.results if r.scores.get("ExactMatch") == 1)
assert passed == n, (passed, n)
"""
# name: (store, items, latency ms, concurrency)
CASES = {
    "sqlite-10k": ("sqlite", 10_000, 0.0, 0),
    "sqlite-100k": ("sqlite", 100_000, 0.0, 0),
    "postgresql-100k": ("postgresql", 100_000, 0.0, 0),
    "latency": ("sqlite", 10_000, 20.0, 32),
}


def ensure_venv() -> Path:
    """The peers' venv with Braintrust's SDK and autoevals at the pinned versions (created or fixed if needed)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pins = [f"braintrust=={BRAINTRUST}", f"autoevals=={AUTOEVALS}"]
    check = "import importlib.metadata as m; print(m.version('braintrust'), m.version('autoevals'))"
    have = subprocess.run([str(python), "-c", check], capture_output=True, text=True).stdout.split()
    if have != [BRAINTRUST, AUTOEVALS]:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
    return python


def _store_bytes(home: Path, schema: str) -> tuple[int, int]:
    """(bytes on disk of the store, bytes of the stored events' state) for a SQLite home or a PostgreSQL schema."""
    if not schema:
        disk = sum(p.stat().st_size for p in home.iterdir() if ".db" in p.name)
        with sqlite3.connect(home / "events.db") as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            state = sum(
                conn.execute(f'SELECT COALESCE(SUM(LENGTH(state)), 0) FROM "{t}"').fetchone()[0]
                for t in tables
                if any(c[1] == "state" for c in conn.execute(f'PRAGMA table_info("{t}")'))
            )
        return disk, state
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))]  # fmt: skip
        disk = sum(conn.execute("SELECT pg_total_relation_size(%s)", (f'"{schema}"."{t}"',)).fetchone()[0]
                   for t in tables)  # fmt: skip
        with_state = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = %s AND column_name = 'state'",
            (schema,))]  # fmt: skip
        state = sum(conn.execute(f'SELECT COALESCE(SUM(octet_length(state)), 0) FROM "{schema}"."{t}"').fetchone()[0]
                    for t in with_state)  # fmt: skip
    return disk, state


def ours(store: str, work: Path, n: int, ms: float, concurrency: int) -> dict[str, Any]:
    """``agnt5 experiments run EXP --wait`` on a fresh store, as a whole process tree; plus the store's growth."""
    source, component = (SLEEPER, "sleeper") if ms else (ECHO, "echo")
    inputs = [{"n": i, "ms": ms} if ms else {"n": i} for i in range(n)]
    config = {"concurrency": concurrency, "timeout_s": 60} if concurrency else {}
    with experiment(store, work, source, component, inputs, config) as (_settings, exp_id):
        home = Path(os.environ["AGNT5_HOME"])
        schema = parse_qs(urlsplit(os.environ["AGNT5_DATABASE_URL"]).query).get("schema", [""])[0]
        before = _store_bytes(home, schema)
        result = cli_run(exp_id)
        after = _store_bytes(home, schema)
    return {**result, "disk": after[0] - before[0], "state": after[1] - before[1]}


def theirs(python: Path, n: int, ms: float, concurrency: int) -> dict[str, Any]:
    """Braintrust's ``Eval`` over the same items, locally, as a whole process tree (no API key in its env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
    result = process_tree([str(python), "-c", BT_EVAL, str(n), str(ms), str(concurrency)], env)
    assert result["code"] == 0, result
    return result


def _cell(values: list[float], fmt: str = ".2f") -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--repeat", type=int, default=5, help="paired runs per case (median and range reported)")
    parser.add_argument("--items", type=int, help="override every case's item count (for trying the script)")
    parser.add_argument("--write-docs", action="store_true", help="write the tables into docs/benchmarks.md")
    args = parser.parse_args()
    byte_compile()
    if args.repeat < 1 or (args.items is not None and args.items <= 100):
        parser.error("--repeat must be >= 1 and --items > 100")
    python = ensure_venv()
    work = Path(os.environ.get("AGNT5_BENCH_WORK", "/work/bench"))
    work.mkdir(parents=True, exist_ok=True)
    lines = [
        f"Braintrust {BRAINTRUST} + autoevals {AUTOEVALS}; median of {args.repeat} paired runs [range]; "
        "whole process trees (ours: the console script and its detached worker).",
        "",
        "| case | side | wall (s) | CPU (s) | peak RSS (MB) | PG backends CPU (s) | per item (ms, N - 100) | load |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    ratios, sizes = ["", "Ratios ours / Braintrust (medians):", ""], ["", "Bytes per item written by our run:", ""]
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for name in args.cases:
            store, n, ms, concurrency = CASES[name]
            n = args.items or n
            runs: dict[str, dict[int, list[dict[str, Any]]]] = {"ours": {}, "braintrust": {}}
            loads = []
            for rep in range(args.repeat):
                for size in (100, n):
                    for side in ("ours", "braintrust") if rep % 2 == 0 else ("braintrust", "ours"):
                        measured = (ours(store, Path(tmp), size, ms, concurrency) if side == "ours"
                                    else theirs(python, size, ms, concurrency))  # fmt: skip
                        runs[side].setdefault(size, []).append(measured)
                loads.append(load())
                print(f"{name} #{rep + 1}: load {loads[-1]}", flush=True)
            medians: dict[str, dict[str, float]] = {}
            for side, by_size in runs.items():
                big, small = by_size[n], by_size[100]
                per_item = statistics.median(r["wall"] for r in big) - statistics.median(r["wall"] for r in small)
                per_item = per_item * 1000 / (n - 100)
                pg = [r["pg_cpu"] for r in big if r.get("pg_cpu") is not None]
                medians[side] = {key: statistics.median(r[key] for r in big) for key in ("wall", "cpu", "rss")}
                medians[side]["per_item"] = per_item
                lines.append(
                    f"| {name} ({n:,} items) | {side} | {_cell([r['wall'] for r in big])} | "
                    f"{_cell([r['cpu'] for r in big])} | {_cell([r['rss'] for r in big], '.0f')} | "
                    f"{_cell(pg) if pg else ''} | {per_item:.3f} | {loads[0]} .. {loads[-1]} |"
                )
                print(lines[-1], flush=True)
            ours_m, bt_m = medians["ours"], medians["braintrust"]
            ratios.append(
                f"- {name}: wall {ours_m['wall'] / bt_m['wall']:.2f}, CPU {ours_m['cpu'] / bt_m['cpu']:.2f}, "
                f"peak RSS {ours_m['rss'] / bt_m['rss']:.2f}, per item {ours_m['per_item'] / bt_m['per_item']:.2f} "
                f"(`scripts/bench/peers --cases {name} --repeat {args.repeat}`)"
            )
            big = runs["ours"][n]
            disk, state = statistics.median(r["disk"] for r in big), statistics.median(r["state"] for r in big)
            sizes.append(f"- {name}: store growth {disk / n:,.0f} B/item on disk vs {state / n:,.0f} B/item of "
                         f"stored event state ({disk / max(state, 1):.2f}x)")  # fmt: skip
    text = "\n".join(lines + ratios + sizes)
    print(f"\nmachine: {machine()}\n\n{text}")
    if args.write_docs:
        write_docs(text, "peers")


if __name__ == "__main__":
    main()
