"""End-to-end per-item overhead: an echo component and exact_match over N items, run start to projections caught up.

    scripts/bench/overhead [--items 10000 100000] [--stores sqlite postgresql] [--write-docs]

Each measurement uses a fresh store. The clock starts just before the run is started (the same call the CLI makes:
the run's start is recorded and a detached worker process is launched) and stops when the read model shows the run
completed with every item, as `agnt5 reports wait` would see it.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from domain.scoring import parse_scorer_spec, with_keys  # noqa: E402
from projections import queries  # noqa: E402
from runner import operations  # noqa: E402
from runner.bootstrap import Services, Settings  # noqa: E402

PG_URL = os.environ.get("AGNT5_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/agnt5_bench")
ECHO = "from runner.sdk import component\n\n\n@component('echo')\ndef echo(input):\n    return input\n"


def pg_schema() -> str:
    admin = PG_URL.rsplit("/", 1)[0] + "/postgres"
    name = PG_URL.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_schema(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def measure(store: str, n: int, work: Path) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(dir=work))
    schema = pg_schema() if store == "postgresql" else ""
    url = f"{PG_URL}?schema={schema}" if schema else ""
    os.environ["AGNT5_HOME"], os.environ["AGNT5_DATABASE_URL"] = str(home), url
    (home / "bench_echo.py").write_text(ECHO)
    svc = Services(Settings.from_env())
    try:
        app = svc.app
        ds = app.create_dataset("bench")
        app.add_items(ds.id, [{"input": {"n": i}, "expected_output": {"n": i}} for i in range(n)])
        version = app.publish(ds.id)
        dep = app.create_deployment("echo", "bench_echo", str(home), [{"name": "echo", "type": "function"}])
        spec = {
            "dataset_id": str(ds.id), "dataset_version_id": str(version.id),
            "target": {"type": "component", "deployment_id": str(dep.id), "component_name": "echo",
                       "component_type": "function"},
            "scorers": with_keys([parse_scorer_spec("exact_match")]), "config": {},
        }  # fmt: skip
        exp = app.create_experiment("bench", "", spec)
        svc.catch_up()
        started = time.perf_counter()
        run_id = operations.start_run(svc, exp.id, "bench")["id"]
        summary = operations.wait_for_run(svc, run_id, timeout=3600, poll=0.01)
        elapsed = time.perf_counter() - started
        assert summary is not None and summary["status"] == "completed", summary
        assert summary["passed_items"] == n and len(queries.scores(svc.view, run_id=run_id)) == n
        return {"seconds": elapsed, "ms_per_item": elapsed * 1000 / n}
    finally:
        svc.close()
        if schema:
            drop_schema(schema)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) // 1024 // 1024  # fmt: skip
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB, Python {platform.python_version()}, {pg}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for store in args.stores:
            for n in args.items:
                result = measure(store, n, Path(work))
                rows.append((store, n, result))
                print(f"{store:10} {n:>7} items  {result['seconds']:7.2f} s  {result['ms_per_item']:.3f} ms/item",
                      flush=True)  # fmt: skip
    table = ["| store | items | wall time (s) | overhead per item (ms) | budget (ms) |", "|---|---:|---:|---:|---:|"]
    for store, n, result in rows:
        budget = "0.2" if store == "sqlite" else "0.4"
        table.append(f"| {store} | {n:,} | {result['seconds']:.2f} | {result['ms_per_item']:.3f} | {budget} |")
    per_store: dict[str, dict[int, float]] = {}
    for store, n, result in rows:
        per_store.setdefault(store, {})[n] = result["ms_per_item"]
    ratios = [
        f"- {store}: per-item overhead at {max(by_n):,} items / at {min(by_n):,} items = "
        f"{by_n[max(by_n)] / by_n[min(by_n)]:.2f} (1.00 is flat)"
        for store, by_n in per_store.items()
        if len(by_n) > 1
    ]
    text = "\n".join(table + (["", *ratios] if ratios else []))
    print(f"\nmachine: {machine()}\n\n{text}")
    if args.write_docs:
        write_docs(text)


def write_docs(table: str, section: str = "overhead") -> None:
    """Replace the text between ``<!-- section:start -->`` and ``<!-- section:end -->`` in docs/benchmarks.md."""
    path = ROOT / "docs" / "benchmarks.md"
    content = path.read_text()
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    head, _, rest = content.partition(start)
    _, _, tail = rest.partition(end)
    stamp = time.strftime("%Y-%m-%d")
    path.write_text(f"{head}{start}\nMeasured {stamp} on {machine()}.\n\n{table}\n{end}{tail}")


if __name__ == "__main__":
    main()
