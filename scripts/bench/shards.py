"""Runs planned in shards against runs in one contiguous range, on one machine (the embedded executor).

    scripts/bench/shards [--items 10000] [--stores sqlite postgresql] [--repeat 3] [--write-docs]

Every run is planned in shards of ``shard_size`` (100) and executed by the shard code, which records each shard
from its own watermark. A run from before shards is one range of every position, recorded in contiguous chunks;
the executor still runs such a run the old way, which makes it the baseline here. Both are measured with the same
code, interleaved (baseline, sharded, baseline, ...), on a fresh store each time, as ``agnt5 experiments run
--wait`` sees them (``common.run_and_wait``): an echo component (the per-item overhead) and a 20 ms component at
concurrency 32 (latency-bound). Also reported: the time from the run's ``Started`` event to its first
``ChunkRecorded`` (the first results a user sees), and the chunks the run recorded.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any
from uuid import UUID

from common import experiment, machine, run_and_wait, write_docs

from agnt5_evals.adapters.bootstrap import Services

ECHO = "from agnt5_evals import component\n\n\n@component('echo')\ndef echo(input):\n    return input\n"
SLEEPER = (
    "import time\nfrom agnt5_evals import component\n\n\n@component('sleeper')\ndef sleeper(input):\n"
    "    time.sleep(input['ms'] / 1000)\n    return input\n"
)
CASES = {
    "echo": (ECHO, "echo", {}, lambda i: {"n": i}),
    "20 ms, concurrency 32": (SLEEPER, "sleeper", {"concurrency": 32}, lambda i: {"n": i, "ms": 20}),
}


def first_results(settings: Any, run_id: str) -> tuple[float, int]:
    """Seconds from the run's ``Started`` event to its first ``ChunkRecorded``, and its number of chunks."""
    with Services(settings) as svc:
        events = list(svc.app.events.get(UUID(run_id)))
    chunks = [e for e in events if type(e).__qualname__ == "Run.ChunkRecorded"]
    return (chunks[0].timestamp - events[0].timestamp).total_seconds(), len(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=3, help="measurements per case and mode (medians reported)")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    table = [
        f"{args.items:,} items; median of {args.repeat} interleaved runs per mode (range in brackets).",
        "",
        "| store | target | mode | wall (s) | sharded / one range | first results after (s) | chunks |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as work:
        for store in args.stores:
            for case, (source, component, config, make) in CASES.items():
                inputs = [make(i) for i in range(args.items)]
                walls: dict[bool, list[float]] = {False: [], True: []}
                firsts: dict[bool, list[float]] = {False: [], True: []}
                chunks: dict[bool, int] = {}
                for _ in range(args.repeat):
                    for sharded in (False, True):
                        with experiment(store, Path(work), source, component, inputs, config) as (settings, exp):
                            summary, seconds = run_and_wait(settings, exp, args.items, sharded=sharded)
                            first, chunks[sharded] = first_results(settings, summary["run"]["id"])
                        walls[sharded].append(seconds)
                        firsts[sharded].append(first)
                base = statistics.median(walls[False])
                for sharded in (False, True):
                    wall = statistics.median(walls[sharded])
                    ratio = "" if not sharded else f"{wall / base:.3f}"
                    mode = "shards of 100" if sharded else "one range (before shards)"
                    spread = f"{min(walls[sharded]):.2f}-{max(walls[sharded]):.2f}"
                    table.append(f"| {store} | {case} | {mode} | {wall:.2f} [{spread}] | {ratio} | "
                                 f"{statistics.median(firsts[sharded]):.3f} | {chunks[sharded]} |")  # fmt: skip
                    print(table[-1], flush=True)
    text = "\n".join(table)
    print(f"\nmachine: {machine()}\n\n{text}")
    if args.write_docs:
        write_docs(text, "shards")


if __name__ == "__main__":
    main()
