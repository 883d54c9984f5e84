"""A worker killed with SIGKILL mid-run: a new worker resumes exactly once, from the watermark."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from collections import Counter

import pytest

from agnt5_evals.services import operations
from tests.cli.conftest import data, out
from tests.support import release, wait_until

pytestmark = pytest.mark.local_only  # agnt5 worker resumes runs on the store's machine

COUNTER = """
import os
import time
from agnt5_evals import component



@component("counter", type="function")
def counter(input):
    with open(input["log"], "a") as log:  # one line per execution, to prove nothing finished runs twice
        log.write(f"{input['n']}\\n")
    waited = time.monotonic() + 120
    while input.get("hold") and not os.path.exists(input["hold"]) and time.monotonic() < waited:
        time.sleep(0.02)  # held until the test creates the file
    return {"n": input["n"], "even": input["n"] % 2 == 0}
"""


def recorded_positions(agnt5, run_id):
    scores = data(agnt5("scores", "list", "--run-id", run_id, "--format", "json"))
    return sorted(s["position"] for s in scores)


def test_sigkill_then_resume_records_every_item_exactly_once(agnt5, agent_dir, tmp_path):
    (agent_dir / "counter_agent.py").write_text(textwrap.dedent(COUNTER))
    log, released = tmp_path / "executions.log", tmp_path / "release"
    n_items, held = 120, 60  # items from 60 on wait until released: the worker is surely killed half-way
    ds = out(agnt5("datasets", "create", "--name", "resume"))
    inputs = [{"n": n, "log": str(log), **({"hold": str(released)} if n >= held else {})} for n in range(n_items)]
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps({"input": inputs[n],
                                                                "expected_output": {"n": n, "even": n % 2 == 0}})
                                                     for n in range(n_items)))  # fmt: skip
    version = out(agnt5("datasets", "publish", ds))
    dep = out(agnt5("deployments", "create", "--name", "c", "--module", "counter_agent", "--path", str(agent_dir)))
    config = '{"concurrency": 2, "passed_threshold": 1}'
    exp = out(agnt5("experiments", "create", "--name", "resume", "--dataset-id", ds, "--dataset-version-id", version,
                    "--deployment-id", dep, "--component-name", "counter", "--component-type", "function",
                    "--builtin-scorer", "exact_match", "--config", config))  # fmt: skip

    run_id = out(agnt5("experiments", "run", exp))
    wait_until(lambda: len(recorded_positions(agnt5, run_id)) >= 10, message="the run did not start recording")
    os.kill(operations._workers[run_id].pid, signal.SIGKILL)
    operations._workers[run_id].wait()
    before = recorded_positions(agnt5, run_id)
    assert 10 <= len(before) <= held and before == list(range(len(before)))
    assert data(agnt5("experiments", "runs", "show", run_id, "--format", "json"))["status"] == "running"

    release(released)
    resumed = agnt5("worker", "--once")
    assert f"resuming run {run_id}" in resumed.stderr

    summary = data(agnt5("reports", "wait", run_id, "--timeout", "1m", "--format", "json"))
    assert (summary["status"], summary["done_items"], summary["passed_items"]) == ("completed", n_items, n_items)
    assert recorded_positions(agnt5, run_id) == list(range(n_items))  # every item once, none twice
    executions = Counter(int(line) for line in log.read_text().split())
    assert all(executions[n] == 1 for n in before)  # no item that was in the log ran again
    assert set(executions) == set(range(n_items))

    clean = data(agnt5("experiments", "run", exp, "--wait", "--format", "json"))
    keys = ("status", "total_items", "done_items", "passed_items", "failed_items", "errored_items", "pass_rate",
            "gate", "scorers")  # fmt: skip
    assert {k: summary[k] for k in keys} == {k: clean[k] for k in keys}


def test_worker_once_with_nothing_to_resume(agnt5, store):
    assert "resumed 0 run(s)" in agnt5("worker", "--once").stderr
