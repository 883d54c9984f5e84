"""End-to-end per-item overhead: an echo component and exact_match over N items, run start to projections caught up.

    scripts/bench/overhead [--items 10000 100000] [--stores sqlite postgresql] [--write-docs]

Each measurement uses a fresh store. The clock starts just before the run is started (the same call the CLI makes:
the run's start is recorded and a detached worker process is launched) and stops when the read model shows the run
completed with every item, as `agnt5 reports wait` would see it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import experiment, machine, run_and_wait, write_docs

ECHO = "from runner.sdk import component\n\n\n@component('echo')\ndef echo(input):\n    return input\n"
BUDGET_MS = {"sqlite": 0.2, "postgresql": 0.4}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    table = ["| store | items | wall time (s) | overhead per item (ms) | budget (ms) |", "|---|---:|---:|---:|---:|"]
    per_item: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory() as work:
        for store in args.stores:
            for n in args.items:
                inputs = [{"n": i} for i in range(n)]
                with experiment(store, Path(work), ECHO, "echo", inputs, {}) as (settings, exp_id):
                    _, seconds = run_and_wait(settings, exp_id, n)
                ms = seconds * 1000 / n
                per_item.setdefault(store, {})[n] = ms
                table.append(f"| {store} | {n:,} | {seconds:.2f} | {ms:.3f} | {BUDGET_MS[store]} |")
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
