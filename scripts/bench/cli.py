"""CLI start-up benchmark (not a test): the wall time of whole `agnt5` processes as a user runs them.

`agnt5 --help`, `agnt5 experiments runs show RUN` and `agnt5 reports ci RUN` on a store holding one finished
100-item run, SQLite and PostgreSQL; each command ``--repeat`` times (median, p90 and range), with the load average
read before. The budget (issue 16) is 0.25 s wall on an idle machine. ``--write`` replaces the cli section of
docs/benchmarks.md.
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

from common import ROOT, experiment, write_docs

from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.worker.execute import Executor

TARGET = """
from agnt5_evals import component


@component("echo", type="function")
def echo(input):
    return input
"""
AGNT5 = str(ROOT / ".venv" / "bin" / "agnt5")


def timed(args: list[str], env: dict[str, str], repeat: int) -> dict[str, Any]:
    walls = []
    load = os.getloadavg()[0]
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([AGNT5, *args], env=env, capture_output=True, timeout=120)
        walls.append(time.perf_counter() - started)
        assert done.returncode in (0, 2), done.stderr.decode()[-500:]  # reports ci exits 2 when the gate fails
    walls.sort()
    return {"median": statistics.median(walls), "p90": walls[int(0.9 * (len(walls) - 1))], "min": walls[0],
            "max": walls[-1], "load": load}  # fmt: skip


def measure(store: str, repeat: int, work: Path) -> list[dict[str, Any]]:
    inputs = [{"n": n} for n in range(100)]
    with experiment(store, work, TARGET, "echo", inputs, {"concurrency": 8}) as (settings, exp_id):
        with Services(settings) as svc:
            run_id = svc.app.start_run(exp_id, "cli-bench").id
            assert Executor(svc, run_id).execute() == "completed"
            svc.catch_up()
        url = Settings.from_env().database_url
        env = {**os.environ, "AGNT5_HOME": os.environ["AGNT5_HOME"], "AGNT5_DATABASE_URL": url}
        rows = []
        for label, args in (
            ("agnt5 --help", ["--help"]),
            ("agnt5 experiments runs show RUN", ["experiments", "runs", "show", str(run_id)]),
            ("agnt5 reports ci RUN", ["reports", "ci", str(run_id)]),
        ):
            timed(args, env, 2)  # warm the file cache
            rows.append({"store": store, "command": label, **timed(args, env, repeat)})
            print(f"  {store} {label}: {rows[-1]['median'] * 1000:.0f} ms", flush=True)
        return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| store | command | median | p90 | range | budget | load before |", "|---|---|---:|---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['store']} | `{r['command']}` | {r['median'] * 1000:.0f} ms | {r['p90'] * 1000:.0f} ms "
                     f"| {r['min'] * 1000:.0f}-{r['max'] * 1000:.0f} ms | 250 ms | {r['load']:.2f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agnt5-bench-cli-"))
    rows = [row for store in args.stores.split(",") for row in measure(store, args.repeat, work)]
    text = table(rows)
    print(text)
    if args.write:
        write_docs(text, "cli")


if __name__ == "__main__":
    main()
