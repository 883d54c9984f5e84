"""End-to-end per-item overhead: an echo component and exact_match over N items, run start to projections caught up.

    scripts/bench/overhead [--items 10000 100000] [--stores sqlite postgresql] [--repeat 3] [--write-docs]

Each measurement uses a fresh store. The clock starts when the store is opened, as ``agnt5 experiments run --wait``
does (a standby worker forked, the run's start recorded and handed to it), and stops when the read model shows the
run completed with every item, as the waiting CLI sees it: this in-process clock leaves out the interpreter's
start-up and imports and the worker's exit. The whole-process columns measure the real console script
(``agnt5 experiments run EXP --wait``) on another fresh store, as a process tree with its detached worker
(``common.cli_run``): wall until the command exits, CPU of the tree, peak RSS of the tree. The two are interleaved.
Each size is measured ``--repeat`` times; the table shows the median and the range.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import byte_compile, cli_run, experiment, load, machine, run_and_wait, write_docs

ECHO = "from agnt5_evals import component\n\n\n@component('echo')\ndef echo(input):\n    return input\n"
BUDGET_MS = {"sqlite": 0.2, "postgresql": 0.4}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=3, help="measurements per size (median and range reported)")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    byte_compile()
    table = [
        f"Median of {args.repeat} runs each (range in brackets).",
        "",
        "| store | items | in-process wall (s) | in-process per item (ms) | whole process wall (s) "
        "| whole process per item (ms) | CPU of the tree (s) | peak RSS of the tree (MB) | budget (ms) | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    per_item: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory() as work:
        for store in args.stores:
            for n in args.items:
                inputs = [{"n": i} for i in range(n)]
                times, whole = [], []
                for _ in range(args.repeat):
                    with experiment(store, Path(work), ECHO, "echo", inputs, {}) as (settings, exp_id):
                        times.append(run_and_wait(settings, exp_id, n)[1])
                    with experiment(store, Path(work), ECHO, "echo", inputs, {}) as (_settings, exp_id):
                        whole.append(cli_run(exp_id))
                seconds = statistics.median(times)
                ms = seconds * 1000 / n
                per_item.setdefault(store, {})[n] = ms
                spread = f"{min(times) * 1000 / n:.3f}-{max(times) * 1000 / n:.3f}"
                walls = [r["wall"] for r in whole]
                tree = (
                    f"{statistics.median(walls):.2f} | {statistics.median(walls) * 1000 / n:.3f} "
                    f"[{min(walls) * 1000 / n:.3f}-{max(walls) * 1000 / n:.3f}] | "
                    f"{statistics.median(r['cpu'] for r in whole):.2f} | "
                    f"{statistics.median(r['rss'] for r in whole):.0f}"
                )
                table.append(
                    f"| {store} | {n:,} | {seconds:.2f} | {ms:.3f} [{spread}] | {tree} | {BUDGET_MS[store]} "
                    f"| {load()} |"
                )
                print(table[-1], flush=True)
    ratios = [
        f"- {store}: per-item overhead at {max(by_n):,} items / at {min(by_n):,} items = "
        f"{by_n[max(by_n)] / by_n[min(by_n)]:.2f} (1.00 is flat)"
        for store, by_n in per_item.items()
        if len(by_n) > 1
    ]
    text = "\n".join(table + (["", *ratios] if ratios else []))
    print(f"\nmachine: {machine()}\n\n{text}")
    if args.write_docs:
        write_docs(text, "overhead")


if __name__ == "__main__":
    main()
