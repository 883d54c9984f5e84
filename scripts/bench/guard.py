"""The benchmarks' regression guard (CI runs it after the tests): quick, and failing only on an accident.

    scripts/bench/guard [--write] [--repeat 3]

On a fresh embedded (SQLite) store it measures, as a user runs them (whole ``agnt5`` processes):

- **startup**: ``agnt5 --help`` and ``agnt5 experiments runs show RUN``, over a bare ``python -c pass``;
- **per item**: ``agnt5 experiments run EXP --wait`` over 10,000 echo items minus the same over 100 items, per
  item, over a fixed pure-Python workload timed on the same machine (so a faster or slower machine moves both);
- **memory**: the peak RSS of ``agnt5 scores list --run-id RUN --format json`` on the 10,000-item run (three
  scorers: 30,000 scores), over the same on the 100-item run (a listing that reads the whole run at once grows
  with the run: 2.5x here with the code before streaming; a streamed one does not).

Each is a ratio: of the fastest of ``3 * --repeat`` start-ups, of the medians of ``--repeat`` runs and listings
(each measurement in a process of its own). The guard fails (exit 1) only when a ratio is more than ``SLACK`` (2)
times the committed one (``guard.json``, written by ``--write`` on this kind of machine), after measuring a
failing ratio once more (noise passes, a regression stays). It is not a timing test: the budgets and the figures
of docs/benchmarks.md come from the benchmarks themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import ROOT, byte_compile, experiment, machine, whole_process

AGNT5 = str(ROOT / ".venv" / "bin" / "agnt5")
BASELINE = Path(__file__).with_name("guard.json")
SLACK = 2.0
BIG, SMALL = 10_000, 100
SCORERS = ("exact_match", "json_valid", "levenshtein")
TARGET = """
from agnt5_evals import component


@component("echo", type="function")
def echo(input):
    return input
"""


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """A whole process: its wall seconds and peak RSS (MB)."""
    done = whole_process(args, env)
    if done["code"] not in (0, 2):  # 2: a gate that failed
        raise SystemExit(f"guard: {' '.join(args[1:])} exited {done['code']}: {done['stderr']}")
    return done["wall"], done["rss"]


def workload() -> float:
    """Seconds of a fixed pure-Python workload (JSON, dicts, strings): the machine's speed today."""
    started = time.perf_counter()
    for n in range(20_000):
        record = {"n": n, "text": f"item {n}", "scores": [{"key": "exact_match", "score": 1.0}]}
        json.loads(json.dumps(record))
    return time.perf_counter() - started


def median(measure: Callable[[], float], repeat: int) -> float:
    return statistics.median(measure() for _ in range(repeat))


def fastest(measure: Callable[[], float], repeat: int) -> float:
    """The least of ``repeat`` measurements: a start-up's own cost, without the other processes' (noise only adds)."""
    return min(measure() for _ in range(repeat))


class Guard:
    def __init__(self, work: Path, repeat: int) -> None:
        self.work, self.repeat = work, repeat

    def measure(self) -> dict[str, float]:
        inputs = [{"text": f"item {n}"} for n in range(BIG)]
        with experiment("sqlite", self.work, TARGET, "echo", inputs, {"concurrency": 8}, SCORERS) as (settings, big):
            env = {**os.environ, "AGNT5_HOME": str(settings.home), "AGNT5_DATABASE_URL": ""}
            with experiment("sqlite", self.work, TARGET, "echo", inputs[:SMALL], {"concurrency": 8}, SCORERS) as (
                small_settings,
                small,
            ):
                small_env = {**os.environ, "AGNT5_HOME": str(small_settings.home), "AGNT5_DATABASE_URL": ""}
                return self._ratios(env, str(big), small_env, str(small))

    def _ratios(self, env: dict[str, str], big: str, small_env: dict[str, str], small: str) -> dict[str, float]:
        bare = fastest(lambda: run([sys.executable, "-c", "pass"], env)[0], self.repeat * 3)
        unit = median(workload, self.repeat)
        help_wall = fastest(lambda: run([AGNT5, "--help"], env)[0], self.repeat * 3)
        walls, rss = {}, {}
        for name, (e, exp) in {"big": (env, big), "small": (small_env, small)}.items():
            walls[name] = median(
                lambda e=e, exp=exp: run([AGNT5, "experiments", "run", exp, "--wait"], e)[0], self.repeat
            )
            listed = subprocess.run([AGNT5, "experiments", "runs", "list", exp, "--format", "json"], env=e,
                                    capture_output=True, check=True).stdout  # fmt: skip
            run_id = json.loads(listed)[-1]["id"]
            scores = [AGNT5, "scores", "list", "--run-id", run_id, "--format", "json"]
            rss[name] = median(lambda e=e, scores=scores: run(scores, e)[1], self.repeat)
        show = fastest(lambda: run([AGNT5, "experiments", "runs", "show", run_id], small_env)[0], self.repeat * 3)
        per_item = (walls["big"] - walls["small"]) / (BIG - SMALL)
        return {
            "help / bare python": help_wall / bare,
            "runs show / bare python": show / bare,
            "per item / workload": per_item / unit,
            "scores list RSS, big / small run": rss["big"] / rss["small"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="commit these ratios as the baseline (guard.json)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # one measurement, as JSON
    args = parser.parse_args()
    byte_compile()
    if args.measure:
        work = Path(tempfile.mkdtemp(prefix="agnt5-guard-"))
        try:
            print(json.dumps(Guard(work, args.repeat).measure()))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    load = os.getloadavg()[0]
    ratios = measured(args.repeat)
    if args.write:
        BASELINE.write_text(json.dumps({"measured": time.strftime("%Y-%m-%d"), "machine": machine(), "load": load,
                                        "ratios": ratios}, indent=2) + "\n")  # fmt: skip
        print(json.dumps(ratios, indent=2))
        return
    committed: dict[str, float] = json.loads(BASELINE.read_text())["ratios"]
    worse = report(ratios, committed, load)
    if worse:
        print(f"guard: {', '.join(worse)} more than {SLACK}x worse: measuring again", flush=True)
        again = measured(args.repeat)
        worse = report({k: min(v, again[k]) for k, v in ratios.items()}, committed, os.getloadavg()[0])
    if worse:
        raise SystemExit(
            f"guard: {', '.join(worse)} more than {SLACK}x worse than committed (scripts/bench/guard.json)"
        )


def measured(repeat: int) -> dict[str, float]:
    """One measurement in a process of its own (this one never opens a store)."""
    done = subprocess.run([sys.executable, __file__, "--measure", "--repeat", str(repeat)], capture_output=True,
                          text=True, cwd=ROOT)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"guard: the measurement failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    ratios: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return ratios


def report(ratios: dict[str, float], committed: dict[str, float], load: float) -> list[str]:
    print(f"benchmark guard (load {load:.2f}): ratio now / committed (fails above {SLACK})")
    worse = []
    for name, value in ratios.items():
        change = value / committed[name]
        print(f"  {name:30} {value:9.4g} / {committed[name]:9.4g} = {change:.2f}")
        if change > SLACK:
            worse.append(name)
    return worse


if __name__ == "__main__":
    main()
