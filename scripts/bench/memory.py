"""Memory benchmark (not a test): the peak RSS of the reads that list a whole big run, as a user runs them.

    scripts/bench/memory --home DIR [--repeat 3] [--write]

``DIR`` is a store built by ``scripts/bench/reads --items 100000 --store sqlite|postgresql --home DIR
--build-only`` (two finished runs of one experiment, about 10% failed and 1% errored items, two scorers). Each
command is a whole ``agnt5`` process (its output to /dev/null), run ``--repeat`` times: peak RSS (``ru_maxrss`` of
the process, started by a small launcher: ``common.whole_process``), wall and CPU time, medians. The budget
(issue 16) is 100 MB for ``reports failures``, ``scores list``, ``reports export`` and ``runs compare``, whatever
the run's size. ``--write`` replaces the memory section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path
from typing import Any

from common import ROOT, whole_process, write_docs

AGNT5 = str(ROOT / ".venv" / "bin" / "agnt5")


def commands(a: str, b: str) -> list[tuple[str, list[str]]]:
    return [
        ("reports failures A --format json", ["reports", "failures", a, "--format", "json"]),
        ("scores list --run-id A --format json", ["scores", "list", "--run-id", a, "--format", "json"]),
        ("scores list --run-id A --format jsonl", ["scores", "list", "--run-id", a, "--format", "jsonl"]),
        ("reports export A (csv)", ["reports", "export", a, "--artifact-format", "csv"]),
        ("reports export A --artifact-format json", ["reports", "export", a, "--artifact-format", "json"]),
        ("reports export A --artifact-format jsonl --layout scores",
         ["reports", "export", a, "--artifact-format", "jsonl", "--layout", "scores"]),
        ("runs compare A B --format json", ["experiments", "runs", "compare", a, b, "--format", "json"]),
    ]  # fmt: skip


def run_once(args: list[str], env: dict[str, str]) -> dict[str, float]:
    done = whole_process([AGNT5, *args], env)
    assert done["code"] == 0, (args, done["code"], done["stderr"])
    return {key: done[key] for key in ("rss", "wall", "cpu")}


def measure(home: Path, repeat: int) -> list[dict[str, Any]]:
    state = json.loads((home / "reads.json").read_text())
    env = {**os.environ, "AGNT5_HOME": str(home), "AGNT5_DATABASE_URL": state["database_url"]}
    rows = []
    for label, args in commands(state["a"], state["b"]):
        load = os.getloadavg()[0]
        runs = [run_once(args, env) for _ in range(repeat)]
        row = {"store": state["store"], "items": state["items"], "command": label, "load": load,
               **{key: statistics.median(r[key] for r in runs) for key in ("rss", "wall", "cpu")}}  # fmt: skip
        rows.append(row)
        print(f"  {label}: {row['rss']:.0f} MB, {row['wall']:.2f} s", flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| store | items | command | peak RSS (MB) | wall (s) | CPU (s) | budget (MB) | load before |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['store']} | {r['items']:,} | `agnt5 {r['command']}` | {r['rss']:.0f} | {r['wall']:.2f} "
                     f"| {r['cpu']:.2f} | 100 | {r['load']:.2f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, action="append", required=True, help="a store built by bench/reads")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    rows = [row for home in args.home for row in measure(home, args.repeat)]
    text = table(rows)
    print(text)
    if args.write:
        write_docs(text, "memory")


if __name__ == "__main__":
    main()
