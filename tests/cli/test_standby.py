"""``experiments run`` forks a standby worker before it opens its store and hands it the run it records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from agnt5_evals.adapters.bootstrap import Settings
from agnt5_evals.adapters.components import import_module
from agnt5_evals.worker.scoring import reset_scorer_processes
from agnt5_evals.worker.standby import Standby, standby
from tests.cli.conftest import data, out
from tests.support import release, wait_until


@pytest.fixture(autouse=True)
def _alone() -> None:
    """A standby forks only from a process with one thread: wait for other tests' threads to end, or name them. The
    pool of scorer processes an earlier test of this process started lives as long as the process: it is shut."""
    reset_scorer_processes()
    wait_until(lambda: threading.active_count() == 1, 30,
               lambda: f"threads left running: {[t.name for t in threading.enumerate()]}")  # fmt: skip


pytestmark = pytest.mark.local_only  # the standby worker is forked by a local command

HELD = """
import os
import time
from agnt5_evals import component



@component("held", type="function")
def held(input):
    waited = time.monotonic() + 120  # never hang forever
    while not os.path.exists(input["hold"]) and time.monotonic() < waited:
        time.sleep(0.02)  # until the test creates the file
    return input
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console script in a new process, as a user runs it."""
    agnt5_bin = Path(sys.executable).parent / "agnt5"
    return subprocess.run([str(agnt5_bin), *args], capture_output=True, text=True, env=os.environ, timeout=120)


def run_log(home: Path, run_id: str) -> str:
    return (home / "logs" / f"run-{run_id}.log").read_text()


def processes_using(home: Path) -> list[int]:
    """Live processes whose environment names this AGNT5_HOME (the CLI's children included)."""
    marker = f"AGNT5_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ and state != "Z":
            found.append(int(entry.name))
    return found


def test_the_cli_hands_its_run_to_a_standby_worker(page, isolated_home):
    result = cli("experiments", "run", page["experiment"], "--wait", "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["passed_items"]) == ("completed", 6)
    log = run_log(isolated_home, summary["id"])
    assert "standby worker" in log and f"run {summary['id']}: completed" in log


def test_agnt5_standby_0_starts_a_fresh_worker_process_instead(page, isolated_home, monkeypatch):
    monkeypatch.setenv("AGNT5_STANDBY", "0")
    result = cli("experiments", "run", page["experiment"], "--wait", "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["passed_items"] == 6
    log = run_log(isolated_home, summary["id"])
    assert "standby worker" not in log and f"run {summary['id']}: completed" in log


def test_a_standby_that_gets_no_run_exits(store, isolated_home):
    result = cli("experiments", "run", str(uuid.uuid4()))
    assert result.returncode == 1 and "not found" in result.stderr
    wait_until(lambda: not processes_using(isolated_home), message="a standby was left behind")
    assert not (isolated_home / "logs").exists() or not list((isolated_home / "logs").iterdir())


def test_the_cli_returns_while_its_standby_still_runs_the_run(agnt5, agent_dir, isolated_home, tmp_path):
    # The standby must not hold the CLI's standard streams: a caller reading them sees the end at once. Its items
    # are held until the CLI has returned, so the run is surely still running then.
    (agent_dir / "held_agent.py").write_text(HELD)
    released = tmp_path / "release"
    ds = out(agnt5("datasets", "create", "--name", "slow"))
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps({"input": {"hold": str(released)}}) for _ in range(3)))
    version = out(agnt5("datasets", "publish", ds))
    dep = out(agnt5("deployments", "create", "--name", "s", "--module", "held_agent", "--path", str(agent_dir)))
    exp = out(agnt5("experiments", "create", "--name", "slow", "--dataset-id", ds, "--dataset-version-id", version,
                    "--deployment-id", dep, "--component-name", "held", "--component-type", "function",
                    "--builtin-scorer", "json_valid", "--config", '{"concurrency": 1}'))  # fmt: skip
    started = cli("experiments", "run", exp)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    assert data(agnt5("experiments", "runs", "show", run_id, "--format", "json"))["status"] == "running"
    release(released)
    waited = data(agnt5("reports", "wait", run_id, "--timeout", "2m", "--format", "json"))
    assert (waited["status"], waited["done_items"]) == ("completed", 3)
    assert "standby worker" in run_log(isolated_home, run_id)


def test_no_standby_while_this_process_has_a_store_open(services):
    assert Standby.fork(services.settings) is None


def test_no_standby_while_another_thread_runs(isolated_home):
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert Standby.fork(Settings.from_env()) is None
    finally:
        stop.set()
        thread.join()


def test_a_failing_fork_falls_back_to_a_worker_process_and_leaks_nothing(isolated_home, monkeypatch):
    def no_more_processes() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_more_processes)
    before = len(os.listdir("/proc/self/fd"))
    with standby(settings=Settings.from_env()) as worker:
        assert worker is None
    assert len(os.listdir("/proc/self/fd")) == before


CHANGED_AGENT = """
from agnt5_evals import component


@component("support_agent", type="agent")
def support_agent(ctx, input):
    raise RuntimeError("the new code ran")
"""


def test_a_standby_imports_components_afresh_whatever_its_parent_ran(agnt5, page, agent_dir, isolated_home):
    # This process executed the good agent in-process before (as an API server or a test may), then its file changed
    # under an editable deployment (it runs the live files).
    live = out(agnt5("deployments", "create", "--name", "live", "--module", "good_agent", "--path", str(agent_dir),
                     "--editable"))  # fmt: skip
    import_module("good_agent", str(agent_dir))
    (agent_dir / "good_agent.py").write_text(CHANGED_AGENT)
    summary = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", live, "--wait", "--format",
                         "json", code=2))  # fmt: skip
    assert summary["errored_items"] == 6
    failures = data(agnt5("reports", "failures", summary["id"], "--format", "json"))
    assert {f["error"] for f in failures} == {"RuntimeError: the new code ran"}
    assert "standby worker" in run_log(isolated_home, summary["id"])
