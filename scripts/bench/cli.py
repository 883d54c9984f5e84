"""CLI start-up benchmark (not a test): the wall time of whole `agnt5` processes as a user runs them.

`agnt5 --help`, `agnt5 experiments runs show RUN` and `agnt5 reports ci RUN` on a store holding one finished
100-item run, SQLite and PostgreSQL; each command ``--repeat`` times (median, p90 and range), with the load average
read before. The budget (issue 16) is 0.25 s wall on an idle machine. ``--write`` replaces the cli section of
docs/benchmarks.md.

``--baseline DIR`` also times another version of the code (DIR holds it as ``agnt5_evals``, put first on the
``PYTHONPATH`` of its processes), each repetition running it and then this one, so that both see the same load: the
table gains its median and the ratio of the medians (this one / the baseline), which a shared machine's load
disturbs much less than the times themselves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, byte_compile, experiment, write_docs

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.worker.execute import Executor

TARGET = """
from agnt5_evals import component


@component("echo", type="function")
def echo(input):
    return input
"""
AGNT5 = str(ROOT / ".venv" / "bin" / "agnt5")


def timed(args: list[str], envs: list[dict[str, str]], repeat: int) -> list[dict[str, Any]]:
    """The wall times of ``agnt5 ARGS`` in each environment, interleaved: each repetition runs them all in turn."""
    walls: list[list[float]] = [[] for _ in envs]
    load = os.getloadavg()[0]
    for _ in range(repeat):
        for env, times in zip(envs, walls, strict=True):
            started = time.perf_counter()
            done = subprocess.run([AGNT5, *args], env=env, capture_output=True, timeout=120)
            times.append(time.perf_counter() - started)
            assert done.returncode in (0, 2), done.stderr.decode()[-500:]  # reports ci exits 2 when the gate fails
    results = []
    for times in walls:
        times.sort()
        results.append({"median": statistics.median(times), "p90": times[int(0.9 * (len(times) - 1))],
                        "min": times[0], "max": times[-1], "load": load})  # fmt: skip
    return results


def measure(store: str, repeat: int, work: Path, baseline: str) -> list[dict[str, Any]]:
    inputs = [{"n": n} for n in range(100)]
    with experiment(store, work, TARGET, "echo", inputs, {"concurrency": 8}) as (settings, exp_id):
        with Services(settings) as svc:
            run_id = svc.app.start_run(exp_id, "cli-bench").id
            assert Executor(svc, run_id).execute() == "completed"
            svc.catch_up()
        url = Settings.from_env().database_url
        env = {**os.environ, "AGNT5_HOME": os.environ["AGNT5_HOME"], "AGNT5_DATABASE_URL": url}
        envs = [env] + ([{**env, "PYTHONPATH": os.pathsep.join([baseline, env.get("PYTHONPATH", "")])}]
                        if baseline else [])  # fmt: skip
        rows = []
        for label, args in (
            ("agnt5 --help", ["--help"]),
            ("agnt5 experiments runs show RUN", ["experiments", "runs", "show", str(run_id)]),
            ("agnt5 reports ci RUN", ["reports", "ci", str(run_id)]),
        ):
            timed(args, envs, 2)  # warm the file cache
            now, *before = timed(args, envs, repeat)
            rows.append({"store": store, "command": label, **now,
                         **({"baseline": before[0]["median"]} if before else {})})  # fmt: skip
            print(f"  {store} {label}: {rows[-1]['median'] * 1000:.0f} ms", flush=True)
        return rows


def table(rows: list[dict[str, Any]]) -> str:
    paired = all("baseline" in r for r in rows)
    extra = (" baseline | ratio |", "---:|---:|") if paired else ("", "")
    lines = [f"| store | command | median | p90 | range | budget | load before |{extra[0]}",
             f"|---|---|---:|---:|---|---:|---:|{extra[1]}"]  # fmt: skip
    for r in rows:
        pair = f" {r['baseline'] * 1000:.0f} ms | {r['median'] / r['baseline']:.2f} |" if paired else ""
        spread = f"{r['min'] * 1000:.0f}-{r['max'] * 1000:.0f} ms"
        lines.append(f"| {r['store']} | `{r['command']}` | {r['median'] * 1000:.0f} ms | {r['p90'] * 1000:.0f} ms "
                     f"| {spread} | 250 ms | {r['load']:.2f} |{pair}")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    parser.add_argument("--baseline", default="", help="a directory holding another version as agnt5_evals: timed "
                        "in turn with this one, for the ratio")  # fmt: skip
    args = parser.parse_args()
    byte_compile(ROOT, *([Path(args.baseline, "agnt5_evals").resolve()] if args.baseline else []))
    work = Path(tempfile.mkdtemp(prefix="agnt5-bench-cli-"))
    rows = [row for store in args.stores.split(",") for row in measure(store, args.repeat, work, args.baseline)]
    text = table(rows)
    print(text)
    if args.write:
        write_docs(text, "cli")


if __name__ == "__main__":
    main()
