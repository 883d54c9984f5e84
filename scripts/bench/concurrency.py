"""Concurrency benchmark: N items against a target that takes L ms, with concurrency C.

    scripts/bench/concurrency [--items 10000] [--latency-ms 20] [--concurrency 32] [--stores sqlite postgresql]

The ideal wall time is items x latency / concurrency. Two times are reported: the run's own span (from its
`Run.Started` event to its `Run.Completed` event, as recorded in the log) and the end-to-end time seen by a
waiting CLI (run start call until the read model shows the run completed). Ratios are to the ideal.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from overhead import PG_URL, drop_schema, machine, pg_schema  # noqa: E402

from domain.scoring import parse_scorer_spec, with_keys  # noqa: E402
from projections import queries  # noqa: E402
from runner import operations  # noqa: E402
from runner.bootstrap import Services, Settings  # noqa: E402

SLEEPER = "import time\nfrom runner.sdk import component\n\n\n@component('sleeper')\ndef sleeper(input):\n" \
          "    time.sleep(input['ms'] / 1000)\n    return input\n"  # fmt: skip


def measure(store: str, n: int, latency_ms: float, concurrency: int, work: Path) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(dir=work))
    schema = pg_schema() if store == "postgresql" else ""
    os.environ["AGNT5_HOME"] = str(home)
    os.environ["AGNT5_DATABASE_URL"] = f"{PG_URL}?schema={schema}" if schema else ""
    (home / "bench_sleeper.py").write_text(SLEEPER)
    svc = Services(Settings.from_env())
    try:
        app = svc.app
        ds = app.create_dataset("bench")
        app.add_items(ds.id, [{"input": {"n": i, "ms": latency_ms}, "expected_output": {"n": i, "ms": latency_ms}}
                              for i in range(n)])  # fmt: skip
        version = app.publish(ds.id)
        dep = app.create_deployment("sleeper", "bench_sleeper", str(home), [{"name": "sleeper", "type": "function"}])
        spec = {
            "dataset_id": str(ds.id), "dataset_version_id": str(version.id),
            "target": {"type": "component", "deployment_id": str(dep.id), "component_name": "sleeper",
                       "component_type": "function"},
            "scorers": with_keys([parse_scorer_spec("exact_match")]),
            "config": {"concurrency": concurrency, "timeout_s": 60},
        }  # fmt: skip
        exp = app.create_experiment("bench", "", spec)
        svc.catch_up()
        started = time.perf_counter()
        run_id = operations.start_run(svc, exp.id, "bench")["id"]
        summary = operations.wait_for_run(svc, run_id, timeout=3600, poll=0.02)
        end_to_end = time.perf_counter() - started
        assert summary is not None and summary["status"] == "completed" and summary["passed_items"] == n, summary
        run = queries.run(svc.view, run_id)
        span = (datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["created_at"])).total_seconds()
        return {"span": span, "end_to_end": end_to_end}
    finally:
        svc.close()
        if schema:
            drop_schema(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    ideal = args.items * args.latency_ms / 1000 / args.concurrency
    lines = [
        f"{args.items:,} items x {args.latency_ms:g} ms / concurrency {args.concurrency}: ideal {ideal:.2f} s",
        "",
        "| store | run span (s) | span / ideal | end to end (s) | end to end / ideal |",
        "|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as work:
        for store in args.stores:
            r = measure(store, args.items, args.latency_ms, args.concurrency, Path(work))
            lines.append(f"| {store} | {r['span']:.2f} | {r['span'] / ideal:.3f} | {r['end_to_end']:.2f} | "
                         f"{r['end_to_end'] / ideal:.3f} |")  # fmt: skip
            print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(f"\nmachine: {machine()}\n\n{text}")
    if args.write_docs:
        from overhead import write_docs

        write_docs(text, "concurrency")


if __name__ == "__main__":
    main()
