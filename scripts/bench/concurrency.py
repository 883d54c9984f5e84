"""Concurrency benchmark: N items against a target that takes L ms, with concurrency C.

    scripts/bench/concurrency [--items 10000] [--latency-ms 20] [--concurrency 32] [--stores sqlite postgresql]

The ideal wall time is items x latency / concurrency. Two times are reported: the run's own span (from its
`Run.Started` event to its `Run.Completed` event, as recorded in the log) and the end-to-end time seen by a
waiting CLI (from opening the store, as ``agnt5 experiments run --wait`` does, until the read model shows the run
completed; in-process, so without the interpreter's start-up and imports). A third, on another fresh store, is
the whole process: the real console script ``agnt5 experiments run EXP --wait`` and its detached worker as a
process tree (``common.cli_run``): wall until the command exits, CPU and peak RSS of the tree. Ratios are to the
ideal. A first row measures the floor on this machine: plain threads that only sleep, recording nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from common import byte_compile, cli_run, experiment, load, machine, run_and_wait, write_docs

SLEEPER = (
    "import time\nfrom agnt5_evals import component\n\n\n@component('sleeper')\ndef sleeper(input):\n"
    "    time.sleep(input['ms'] / 1000)\n    return input\n"
)


def bare_threads(n: int, latency_s: float, concurrency: int) -> float:
    """The floor: ``concurrency`` plain threads taking the next of ``n`` items and sleeping; seconds."""
    lock, taken = threading.Lock(), [0]

    def work() -> None:
        while True:
            with lock:
                if taken[0] >= n:
                    return
                taken[0] += 1
            time.sleep(latency_s)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _median(times: list[float], ideal: float) -> str:
    """``seconds | ratio [min-max]`` cells for a list of measurements."""
    median = statistics.median(times)
    return f"{median:.2f} | {median / ideal:.3f} [{min(times) / ideal:.3f}-{max(times) / ideal:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per store (median and range reported)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    byte_compile()
    n, ideal = args.items, args.items * args.latency_ms / 1000 / args.concurrency
    lines = [
        f"{n:,} items x {args.latency_ms:g} ms / concurrency {args.concurrency}: ideal {ideal:.2f} s",
        "",
        f"Median of {args.repeat} runs per store (range of the ratio in brackets).",
        "",
        "| store | run span (s) | span / ideal | end to end (s) | end to end / ideal | whole process (s) "
        "| whole process / ideal | CPU of the tree (s) | peak RSS of the tree (MB) | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    config = {"concurrency": args.concurrency, "timeout_s": 60}
    inputs = [{"n": i, "ms": args.latency_ms} for i in range(n)]
    floor = bare_threads(n, args.latency_ms / 1000, args.concurrency)
    lines.append(f"| (bare threads, nothing recorded) | {floor:.2f} | {floor / ideal:.3f} | | | | | | | |")
    print(lines[-1], flush=True)
    with tempfile.TemporaryDirectory() as work:
        for store in args.stores:
            spans, ends, whole = [], [], []
            for _ in range(args.repeat):
                with experiment(store, Path(work), SLEEPER, "sleeper", inputs, config) as (settings, exp_id):
                    summary, end_to_end = run_and_wait(settings, exp_id, n)
                run = summary["run"]
                finished, created = (datetime.fromisoformat(run[key]) for key in ("finished_at", "created_at"))
                spans.append((finished - created).total_seconds())
                ends.append(end_to_end)
                with experiment(store, Path(work), SLEEPER, "sleeper", inputs, config) as (_settings, exp_id):
                    whole.append(cli_run(exp_id))
            tree = (
                f"{_median([r['wall'] for r in whole], ideal)} | {statistics.median(r['cpu'] for r in whole):.2f} "
                f"| {statistics.median(r['rss'] for r in whole):.0f}"
            )
            lines.append(f"| {store} | {_median(spans, ideal)} | {_median(ends, ideal)} | {tree} | {load()} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(f"\nmachine: {machine()}\n\n{text}")
    if args.write_docs:
        write_docs(text, "concurrency")


if __name__ == "__main__":
    main()
