"""Peak memory of a run (not a test): ``agnt5 experiments run EXP --wait`` over N items, per process and summed.

    scripts/bench/peak [--items 100000] [--stores sqlite postgresql] [--repeat 3] [--code LABEL=DIR ...]
                       [--write-docs]

Each measurement is the real console script on a fresh store (an echo component, ``exact_match``), as a user runs
it: the waiting CLI and the detached standby worker it forks (which executes the run). A small launcher, the
tree's child subreaper (as ``common.process_tree``), polls /proc every 20 ms: each process's own peak (``VmHWM``,
kept by the kernel, so exact up to the last poll before the process exits) and the largest sum of the tree's
resident sets seen at one poll, the figure of issue 16's budget (150 MB on either store). ``--code LABEL=DIR``
runs the command with ``DIR`` (a folder holding an ``agnt5_evals`` package) first on its path, to compare two
versions of the code: the versions are interleaved and paired, the order flipping every repetition (the ratio
of their wall times, until the command exits, is in the ratio row's last column).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import AGNT5, experiment, load, machine, write_docs

ECHO = "from agnt5_evals import component\n\n\n@component('echo')\ndef echo(input):\n    return input\n"
BUDGET_MB = 150

# As common.TREE_LAUNCHER (subreaper, 20 ms poll of the tree), plus each process's VmHWM, labelled: the command
# itself is "cli", any other process of the tree (its standby worker, or a worker it launched) is "worker".
LAUNCHER = r"""
import ctypes, json, os, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
me, page = os.getpid(), os.sysconf("SC_PAGE_SIZE")
def stat(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[21]) * page / 2**20
def hwm(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall, code, tree_peak, peaks, order = 0.0, None, 0.0, {}, []
while True:
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            pid = -1
            break
        if pid == 0:
            break
        if pid == proc.pid:
            code, wall = os.waitstatus_to_exitcode(status), time.perf_counter() - started
            peaks[pid] = max(peaks.get(pid, 0.0), usage.ru_maxrss / 1024)  # exact for the exec'd command
    if pid == -1:
        break
    stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := stat(p))}
    tree, frontier = set(), {me}
    while frontier:
        frontier = {p for p, s in stats.items() if s[0] in frontier} - tree
        tree |= frontier
    tree_peak = max(tree_peak, sum(stats[p][1] for p in tree))
    for p in tree:
        if p not in peaks:
            order.append(p)
        peaks[p] = max(peaks.get(p, 0.0), hwm(p))
    time.sleep(0.02)
labels = {}
for p in order or list(peaks):
    labels[p] = "cli" if p == proc.pid else "worker" if "worker" not in labels.values() else f"worker {p}"
print(json.dumps({"code": code, "wall": wall, "tree": max(tree_peak, max(peaks.values(), default=0.0)),
                  "processes": {labels.get(p, "cli"): peaks[p] for p in peaks}}))
"""


def measure(store: str, work: Path, n: int, code: str) -> dict[str, Any]:
    """One ``agnt5 experiments run EXP --wait`` over ``n`` items on a fresh store, with ``code`` first on the
    path (or the installed package if empty): the tree's summed peak and each process's peak, in MB."""
    import json
    import subprocess

    inputs = [{"n": i} for i in range(n)]
    with experiment(store, work, ECHO, "echo", inputs, {}) as (_settings, exp_id):
        env = dict(os.environ)
        if code:
            env["PYTHONPATH"] = os.pathsep.join([code, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        args = [sys.executable, "-c", LAUNCHER, AGNT5, "experiments", "run", str(exp_id), "--wait"]
        done = subprocess.run(args, env=env, capture_output=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["code"] == 0, result
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--stores", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=3, help="measurements per store and code (median, range)")
    parser.add_argument("--code", action="append", default=[], metavar="LABEL=DIR",
                        help="a version of the code to measure (a folder holding agnt5_evals); repeatable")  # fmt: skip
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    if args.items < 1 or args.repeat < 1 or any("=" not in c for c in args.code):
        parser.error("--items and --repeat must be >= 1, --code is LABEL=DIR")
    codes = [tuple(c.split("=", 1)) for c in args.code] or [("this", "")]
    work = Path(os.environ.get("AGNT5_BENCH_WORK", "/work/bench"))
    work.mkdir(parents=True, exist_ok=True)
    lines = [
        f"Median of {args.repeat} runs [range] of `agnt5 experiments run EXP --wait` over {args.items:,} items "
        f"(echo, exact_match), fresh store each; peaks in MB; budget {BUDGET_MB} MB for the tree.",
        "",
        "| store | code | tree (sum) | cli | worker | load |",
        "|---|---|---:|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for store in args.stores:
            runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in codes}
            loads = []
            for rep in range(args.repeat):
                for label, code in codes if rep % 2 == 0 else list(reversed(codes)):
                    result = measure(store, Path(tmp), args.items, code)
                    runs[label].append(result)
                    procs = ", ".join(f"{k} {v:.0f}" for k, v in result["processes"].items())
                    print(f"{store} {label} #{rep + 1}: tree {result['tree']:.0f} MB ({procs}), "
                          f"wall {result['wall']:.2f} s, load {load()}",
                          flush=True)  # fmt: skip
                loads.append(load())
            for label, _ in codes:
                done = runs[label]
                cells = [_cell([r["tree"] for r in done])]
                cells += [_cell([r["processes"].get(p, 0.0) for r in done]) for p in ("cli", "worker")]
                lines.append(f"| {store} | {label} | {' | '.join(cells)} | {loads[0]} .. {loads[-1]} |")
            if len(codes) == 2:
                (a, _), (b, _) = codes
                ratio = [x["tree"] / y["tree"] for x, y in zip(runs[b], runs[a], strict=True)]
                walls = [x["wall"] / y["wall"] for x, y in zip(runs[b], runs[a], strict=True)]
                cells = f"{_cell(ratio, '.2f')} | | | wall {_cell(walls, '.2f')}"
                lines.append(f"| {store} | {b} / {a}, paired | {cells} |")
    text = "\n".join(lines)
    print(f"\nmachine: {machine()}\n\n{text}")
    if args.write_docs:
        write_docs(text, "peak")


def _cell(values: list[float], fmt: str = ".0f") -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


if __name__ == "__main__":
    main()
