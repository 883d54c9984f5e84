"""Replay and verify of a big run: `experiments runs replay` and `audit verify` over a finished N-item run.

    scripts/bench/audit [--items 100000] [--stores sqlite postgresql] [--repeat 3] [--write-docs]

Each store gets one run of an echo component over N items, scored by exact_match, contains and json_valid (three
scores per item). Then, each ``--repeat`` times, the two commands are run as a user runs them (the real console
script, a fresh process: imports, opening the store, reading the log, the report): ``agnt5 experiments runs
replay RUN --format json`` and ``agnt5 audit verify RUN --format json``. Both must report a full match. The
budget is 10 s each for 100,000 items on this machine. Wall and CPU time are both reported, with the load average:
on a shared machine the wall time also counts the time other processes held the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, experiment, machine, run_and_wait, write_docs

ECHO = "from agnt5_evals import component\n\n\n@component('echo')\ndef echo(input):\n    return input\n"
SCORERS = ["exact_match", '{"name": "contains", "config": {"pattern": "n"}}', "json_valid"]
BUDGET_S = 10.0
AGNT5 = str(ROOT / ".venv" / "bin" / "agnt5")


def timed(*args: str) -> tuple[dict, float, float]:
    """The command's JSON report, its wall time and the CPU time (user + system) of its process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([AGNT5, *args, "--format", "json"], capture_output=True, text=True, env=os.environ.copy())
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"agnt5 {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(proc.stdout), elapsed, cpu


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=3, help="measurements per command (median and range)")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    n = args.items
    table = [
        f"One run of {n:,} items, three scores each; median of {args.repeat} runs of each command (range). CPU time"
        " is the command's own process (user + system; on PostgreSQL the server's work is not in it, only in the"
        " wall time); the load average (1, 5, 15 min) was read before each command's runs.",
        "",
        "| store | command | wall time (s) | CPU time (s) | budget (s) | result | load average before |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    with tempfile.TemporaryDirectory() as work:
        for store in args.stores:
            inputs = [{"n": i, "text": f"item {i}"} for i in range(n)]
            with experiment(store, Path(work), ECHO, "echo", inputs, {}, scorers=SCORERS) as (settings, exp_id):
                summary, _ = run_and_wait(settings, exp_id, n)
                run_id = summary["run"]["id"]
                for name, command in (("runs replay", ("experiments", "runs", "replay", run_id)),
                                      ("audit verify", ("audit", "verify", run_id))):  # fmt: skip
                    times, cpus, report, load = [], [], {}, load_average()
                    for _ in range(args.repeat):
                        report, seconds, cpu = timed(*command)
                        times.append(seconds)
                        cpus.append(cpu)
                    assert report.get("ok") is True, report
                    checked = report.get("checked", {})
                    result = (f"{report['matched']:,} scores matched" if name == "runs replay"
                              else f"{checked['items']:,} items, {checked['chunks']} chunks")  # fmt: skip
                    table.append(f"| {store} | `{name}` | {statistics.median(times):.2f} "
                                 f"[{min(times):.2f}-{max(times):.2f}] | {statistics.median(cpus):.2f} "
                                 f"[{min(cpus):.2f}-{max(cpus):.2f}] | {BUDGET_S:g} | {result} | {load} |")  # fmt: skip
                    print(table[-1], flush=True)
    text = "\n".join(table)
    print(f"\nmachine: {machine()}\n\n{text}")
    if args.write_docs:
        write_docs(text, "audit")


if __name__ == "__main__":
    main()
