"""``agnt5 projections rebuild`` as a user runs it: events/s, wall, CPU, bytes written and the view's size.

    scripts/bench/rebuild [--items 100000] [--store sqlite|postgresql] [--home DIR] [--repeat 1]
                          [--against CHECKOUT] [--write-docs]

Builds (or, with ``--home`` naming a directory built before, reuses) a store holding one finished N-item run: the
reads benchmark's noisy echo component (about 10% failed, 1% errored items), scored by ``exact_match``,
``levenshtein`` (threshold 0.95) and ``json_valid``; started as ``agnt5 experiments run --wait`` starts it.

Then ``agnt5 projections rebuild --format json`` runs ``--repeat`` times, each in a process of its own. Per rebuild:
the log's events divided by the process's wall time, the run's items divided by it (a run chunk's items are one
event now: this log holds 3 events per chunk of up to 500 items, where it held one per item), its CPU (user +
system) and peak RSS (from ``wait4``), the bytes it wrote: on SQLite the process's ``write_bytes``
(``/proc/self/io`` of this script before and after: a reaped child's I/O is added to its parent's); on PostgreSQL
the server's WAL written (``pg_current_wal_lsn()`` before and after: server-wide, so other clients' writes count
too) and the database's growth. The view's size is that of the live generation's tables and indexes once the rebuild
switched to it.

``--against CHECKOUT`` (a checkout of the code before a change, e.g. a git worktree of main) interleaves its rebuilds
with this code's on the same store, before then after, ``--repeat`` pairs: on a shared machine only such pairs say
what a change gained.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from common import PG_URL, _pg_schema, create_experiment, write_docs
from reads import NOISY, _inputs, _run

from agnt5_evals.adapters.bootstrap import Services, Settings

SCORERS = ["exact_match", '{"name": "levenshtein", "config": {"threshold": 0.95}}', "json_valid"]
STATE = "rebuild.json"
AGNT5 = Path(sys.executable).with_name("agnt5")


def build(home: Path, store: str, n: int) -> dict[str, Any]:
    """A store in ``home`` with one finished ``n``-item run scored three ways; what names it."""
    home.mkdir(parents=True, exist_ok=True)
    schema = _pg_schema() if store == "postgresql" else ""
    url = f"{PG_URL}?schema={schema}" if schema else ""
    os.environ["AGNT5_HOME"], os.environ["AGNT5_DATABASE_URL"] = str(home), url
    (home / "bench_target.py").write_text(NOISY)
    with Services(Settings.from_env()) as svc:
        exp_id = create_experiment(svc, home, "noisy", _inputs(n), {"concurrency": 8}, SCORERS)
    run_id, seconds = _run(Settings.from_env(), exp_id, "rebuild")
    print(f"run {run_id} of {n:,} items: {seconds:.1f} s", flush=True)
    state = {"store": store, "items": n, "database_url": url, "schema": schema, "run": run_id}
    (home / STATE).write_text(json.dumps(state, indent=2))
    return state


def _written() -> int:
    line = next(x for x in Path("/proc/self/io").read_text().splitlines() if x.startswith("write_bytes"))
    return int(line.split()[1])


def _pg(sql: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


def view_size(state: dict[str, Any], home: Path) -> int:
    """Bytes of the live generation's tables and indexes."""
    with Services(Settings.from_env()) as svc:
        prefix = svc.view.sql("{p}")
        if state["store"] == "postgresql":
            schema, _, name = prefix.partition(".")
            like = name.replace("_", r"\_") + "%"
            sql = (
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace s "
                "ON s.oid = c.relnamespace WHERE s.nspname = %s AND c.relkind = 'r' AND c.relname LIKE %s"
            )
            return int(_pg(sql, (schema.strip('"'), like)))
    db = home / f"views-{svc.view.datastore.pool.db_name.rsplit('views-', 1)[1]}"
    sql = "SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM pragma_freelist_count)"
    with sqlite3.connect(db) as conn:
        pages = conn.execute(sql).fetchone()[0]
        return int(pages * conn.execute("PRAGMA page_size").fetchone()[0])


def rebuild(state: dict[str, Any], home: Path, code: Path | None) -> dict[str, Any]:
    """One ``agnt5 projections rebuild`` in its own process (of the package at ``code``, else this checkout's)."""
    env = dict(os.environ)
    if code is not None:  # the package agnt5_evals is the checkout's root: import it through a link of that name
        link = Path(os.environ.get("TMPDIR", "/tmp")) / f"agnt5-rebuild-against-{os.getpid()}"
        link.mkdir(exist_ok=True)
        (link / "agnt5_evals").unlink(missing_ok=True)
        (link / "agnt5_evals").symlink_to(code.resolve())
        env["PYTHONPATH"] = str(link)
    pg = state["store"] == "postgresql"
    lsn = _pg("SELECT pg_current_wal_lsn()") if pg else None
    size = _pg("SELECT pg_database_size(current_database())") if pg else 0
    before = _written()
    started = time.perf_counter()
    proc = subprocess.Popen([str(AGNT5), "projections", "rebuild", "--format", "json"], stdout=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    assert status == 0, f"the rebuild failed: {status}"
    out = json.loads(proc.stdout.read() if proc.stdout else b"{}")
    written = _written() - before
    if pg:
        written = int(_pg("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", (lsn,)))
    view = view_size(state, home)
    grown = int(_pg("SELECT pg_database_size(current_database())")) - size if pg else None
    events = int(out["view_position"])
    return {"events": events, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "events_per_s": events / wall,
            "items_per_s": state["items"] / wall,
            "peak_mb": usage.ru_maxrss / 1024, "written": written, "view": view, "ratio": written / view,
            "db_growth": grown, "load": os.getloadavg()[0]}  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| store | code | events | wall (s) | CPU (s) | peak RSS (MB) | events/s | run items/s | written (MB) "
        "| view (MB) | written / view | load (1 min) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['store']} | {r['code']} | {r['events']:,} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['peak_mb']:.0f} | "
            f"{r['events_per_s']:,.0f} | {r['items_per_s']:,.0f} | "
            f"{r['written'] / 1e6:,.0f} | {r['view'] / 1e6:,.0f} | {r['ratio']:.2f} | {r['load']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--home", type=Path, help="keep the store here (reused when it holds a build)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--against", type=Path, help="a checkout of the code before: its rebuilds interleaved")
    parser.add_argument("--write-docs", action="store_true", help="replace the rebuild table in docs/benchmarks.md")
    args = parser.parse_args()
    home = args.home or Path(os.environ.get("TMPDIR", "/tmp")) / f"agnt5-rebuild-{os.getpid()}"
    if (home / STATE).exists():
        state = json.loads((home / STATE).read_text())
        os.environ["AGNT5_HOME"], os.environ["AGNT5_DATABASE_URL"] = str(home), state["database_url"]
    else:
        state = build(home, args.store, args.items)
    try:
        if args.build_only:
            return
        rows = []
        codes: list[tuple[str, Path | None]] = [("before", args.against)] if args.against else []
        for _ in range(args.repeat):
            for name, code in [*codes, ("after" if args.against else "this", None)]:
                row = {"store": state["store"], "code": name, **rebuild(state, home, code)}
                print(json.dumps(row), flush=True)
                rows.append(row)
        print(table(rows))
        if args.write_docs:
            command = f"scripts/bench/rebuild --store {state['store']}" + (
                f" --against {args.against}" if args.against else ""
            )
            write_docs(f"`{command} --repeat {args.repeat}`\n\n{table(rows)}", f"rebuild-{state['store']}")
    finally:
        if args.home is None:
            if state.get("schema"):
                with psycopg.connect(PG_URL, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{state["schema"]}" CASCADE')
            subprocess.run(["rm", "-rf", str(home)], check=False)


if __name__ == "__main__":
    main()
