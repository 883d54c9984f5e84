"""Shared set-up of the benchmarks: a fresh store, a one-component deployment and an experiment over N items."""

from __future__ import annotations

import compileall
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agnt5_evals.adapters.bootstrap import Services, Settings  # noqa: E402
from agnt5_evals.domain.scoring import parse_scorer_spec, with_keys  # noqa: E402
from agnt5_evals.projections import queries  # noqa: E402
from agnt5_evals.services import operations  # noqa: E402
from agnt5_evals.worker.standby import standby  # noqa: E402

PG_URL = os.environ.get("AGNT5_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/agnt5_bench")


def byte_compile(*trees: str | Path) -> None:
    """Write the bytecode of our modules (``trees``: this checkout by default, and a baseline's), as pip does when
    it installs a package: with ``PYTHONDONTWRITEBYTECODE`` set (this machine sets it), every measured process
    would otherwise compile every module of ours from source (about 0.1-0.2 s of each CLI command), which an
    installed copy never does. Python reads existing ``.pyc`` files whatever that variable says."""
    skip = re.compile(r"[/\\](\.venv|\.git|node_modules|tests)([/\\]|$)")
    for tree in trees or (ROOT,):
        compileall.compile_dir(str(tree), quiet=1, rx=skip)


def _pg_schema() -> str:
    admin, name = PG_URL.rsplit("/", 1)[0] + "/postgres", PG_URL.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


@contextmanager
def experiment(store: str, work: Path, source: str, component: str, inputs: list[dict[str, Any]],
               config: dict[str, Any],
               scorers: Sequence[str] = ("exact_match",)) -> Iterator[tuple[Settings, UUID]]:  # fmt: skip
    """A fresh store holding one experiment: ``component`` of ``source`` over ``inputs``, scored by ``scorers``.

    The set-up's store is closed before the body runs, so the body starts from where a CLI command starts.
    """
    home = Path(tempfile.mkdtemp(dir=work))
    schema = _pg_schema() if store == "postgresql" else ""
    os.environ["AGNT5_HOME"] = str(home)
    os.environ["AGNT5_DATABASE_URL"] = f"{PG_URL}?schema={schema}" if schema else ""
    (home / "bench_target.py").write_text(source)
    settings = Settings.from_env()
    try:
        with Services(settings) as svc:
            exp_id = create_experiment(svc, home, component, inputs, config, scorers)
        yield settings, exp_id
    finally:
        if schema:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def create_experiment(svc: Services, home: Path, component: str, inputs: list[dict[str, Any]],
                      config: dict[str, Any], scorers: Sequence[str] = ("exact_match",)) -> UUID:  # fmt: skip
    """The benchmark's dataset (published), deployment (``bench_target.py`` in ``home``) and experiment; the
    experiment's id."""
    app = svc.app
    ds = app.create_dataset("bench")
    app.add_items(ds.id, [{"input": i, "expected_output": i} for i in inputs])
    version = app.publish(ds.id)
    dep = app.create_deployment("bench", "bench_target", str(home), [{"name": component, "type": "function"}])
    target = {"type": "component", "deployment_id": str(dep.id), "component_name": component,
              "component_type": "function"}  # fmt: skip
    spec = {"dataset_id": str(ds.id), "dataset_version_id": str(version.id), "target": target,
            "scorers": with_keys([parse_scorer_spec(s) for s in scorers]), "config": config}  # fmt: skip
    exp = app.create_experiment("bench", "", spec)
    svc.catch_up()
    return exp.id


def run_and_wait(settings: Settings, experiment_id: UUID, n: int,
                 sharded: bool = True) -> tuple[dict[str, Any], float]:  # fmt: skip
    """Start a run as ``agnt5 experiments run --wait`` does and wait until the read model shows it completed.

    Timed from before the store is opened: fork the standby worker, open the store, record the run, hand it to
    the standby, wait. Returns (the run's summary, seconds). ``sharded`` False: the run is not planned in shards,
    as a run from before shards (one range of every position, recorded in contiguous chunks).
    """
    started = time.perf_counter()
    with standby(settings=settings, experiment_id=experiment_id) as worker, Services(settings) as svc:
        assert worker is not None, "the benchmark must start its run the way the CLI does (a standby worker)"
        svc.app.shard_runs = sharded
        run_id = operations.start_run(svc, experiment_id, "bench", standby=worker)["id"]
        summary = operations.wait_for_run(svc, run_id, timeout=3600)  # polling as often as the CLI does
        elapsed = time.perf_counter() - started
        assert summary is not None and summary["status"] == "completed" and summary["passed_items"] == n, summary
        return {**summary, "run": queries.run(svc.view, run_id)}, elapsed


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem = int(next(line.split()[1] for line in meminfo if line.startswith("MemTotal"))) // 1024 // 1024
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB, Python {platform.python_version()}, {pg}"


def write_docs(table: str, section: str) -> None:
    """Replace the text between ``<!-- section:start -->`` and ``<!-- section:end -->`` in docs/benchmarks.md."""
    path = ROOT / "docs" / "benchmarks.md"
    head, _, rest = path.read_text().partition(f"<!-- {section}:start -->")
    _, _, tail = rest.partition(f"<!-- {section}:end -->")
    stamp = time.strftime("%Y-%m-%d")
    body = f"Measured {stamp} on {machine()}.\n\n{table}\n"
    path.write_text(f"{head}<!-- {section}:start -->\n{body}<!-- {section}:end -->{tail}")


# A child's peak RSS (``ru_maxrss``) counts its parent's memory when it was forked (exec keeps the high-water mark
# of the address space it replaces), so a command is started by a small launcher whose own footprint (about
# 10 MB) is below any agnt5 process's.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read()
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "wall": time.perf_counter() - started,
                  "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
                  "stderr": err.decode(errors="replace")[-6000:]}))
"""


def whole_process(args: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """One command as a whole process (output discarded): exit code, wall and CPU seconds, peak RSS in MB (the
    command's own, see ``LAUNCHER``) and the tail of its stderr."""
    done = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *args], env=env, capture_output=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# The whole process tree of a command, detached workers included: the launcher makes itself the tree's child
# subreaper, so a worker that leaves its session (``setsid``) is re-parented to the launcher instead of init; the
# launcher reaps every descendant, so ``RUSAGE_CHILDREN`` is the CPU of the whole tree, exactly. Peak RSS is the
# largest sum of the descendants' RSS seen by a 20 ms poll of /proc (a lower bound of the true tree peak), or the
# largest single process's peak if that is larger. PostgreSQL backends whose ``application_name`` is the one given
# (libpq's PGAPPNAME, inherited by the tree) are polled too: their CPU as last seen (a backend that lives less
# than a poll is missed).
TREE_LAUNCHER = r"""
import ctypes, json, os, resource, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
me, tick, page = os.getpid(), os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
app, pg_url, args = sys.argv[1], sys.argv[2], sys.argv[3:]
pg = None
if pg_url:
    import psycopg
    pg = psycopg.connect(pg_url, autocommit=True)
def stat(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, int(fields[21]) * page / 2**20
started = time.perf_counter()
err = open(os.environ["AGNT5_BENCH_STDERR"], "wb")
proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
code, command_wall, peak, backends = None, 0.0, 0.0, {}
while True:
    while True:
        try:
            pid, status, _ = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            pid = -1
            break
        if pid == 0:
            break
        if pid == proc.pid:
            code, command_wall = os.waitstatus_to_exitcode(status), time.perf_counter() - started
    if pid == -1:
        break
    stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := stat(p))}
    tree, frontier = set(), {me}
    while frontier:
        frontier = {p for p, s in stats.items() if s[0] in frontier} - tree
        tree |= frontier
    peak = max(peak, sum(stats[p][2] for p in tree))
    if pg is not None:
        for (bpid,) in pg.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,)):
            if (s := stat(bpid)):
                backends[bpid] = s[1]
    time.sleep(0.02)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "wall": command_wall, "tree_wall": time.perf_counter() - started,
                  "cpu": usage.ru_utime + usage.ru_stime, "rss": max(peak, usage.ru_maxrss / 1024),
                  "pg_cpu": sum(backends.values()) if pg is not None else None,
                  "switches": usage.ru_nvcsw + usage.ru_nivcsw}))
"""


def process_tree(args: Sequence[str], env: dict[str, str], pg_url: str = "") -> dict[str, Any]:
    """One command and every process it starts (detached ones included), output discarded: exit code, ``wall``
    (until the command exits, what its user waits), ``tree_wall`` (until the last process of the tree exits), CPU
    seconds (user + system) of the tree, peak RSS of the tree in MB, the PostgreSQL backends' CPU seconds if
    ``pg_url`` is given (else None), the tree's context switches (voluntary and not) and the tail of its stderr.
    See ``TREE_LAUNCHER``."""
    app = f"agnt5-bench-{uuid.uuid4().hex[:12]}"
    with tempfile.NamedTemporaryFile(prefix="agnt5-bench-stderr-") as err:
        env = {**env, "PGAPPNAME": app, "AGNT5_BENCH_STDERR": err.name}
        launcher = [sys.executable, "-c", TREE_LAUNCHER, app, pg_url, *args]
        done = subprocess.run(launcher, env=env, capture_output=True, check=True)
        result: dict[str, Any] = json.loads(done.stdout)
        result["stderr"] = Path(err.name).read_bytes().decode(errors="replace")[-800:]
    return result


AGNT5 = str(Path(sys.executable).parent / "agnt5")


def cli_run(experiment_id: UUID) -> dict[str, Any]:
    """``agnt5 experiments run EXP --wait`` as a user runs it (the console script, in the store ``experiment`` set
    up), measured as a whole process tree (``process_tree``); fails unless it exits 0."""
    env = dict(os.environ)
    pg_url = PG_URL if env.get("AGNT5_DATABASE_URL") else ""
    result = process_tree([AGNT5, "experiments", "run", str(experiment_id), "--wait"], env, pg_url)
    assert result["code"] == 0, result
    return result


def load() -> str:
    """The load averages (1, 5, 15 min), to print next to a figure measured on a shared machine."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
