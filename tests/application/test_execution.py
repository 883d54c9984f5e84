"""The executor: concurrency, timeouts, retries with backoff, repetitions, errors inside components."""

from __future__ import annotations

import statistics
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.gates import check_config
from agnt5_evals.domain.runs import Run
from agnt5_evals.projections import queries
from agnt5_evals.services import operations
from tests.support import execute, release, wait_until

MODULE = """
import os
import threading
import time
from agnt5_evals import TransientError, component

_lock = threading.Lock()
_state = {"active": 0, "peak": 0, "calls": {}}


@component("agent", type="agent")
def agent(ctx, input):
    with _lock:
        _state["active"] += 1
        _state["peak"] = max(_state["peak"], _state["active"])
        _state["calls"][input["n"]] = _state["calls"].get(input["n"], 0) + 1
        calls = _state["calls"][input["n"]]
    if input.get("log"):  # one line per start: which items were dispatched at all
        with open(input["log"], "a") as log:
            log.write(f"{input['n']}\\n")
    waited = time.monotonic() + 120  # the conditions below are met in far less; never hang a test forever
    try:
        while _state["peak"] < input.get("meet", 0) and time.monotonic() < waited:
            time.sleep(0.005)  # wait until that many items ran at once
        while input.get("hold") and not os.path.exists(input["hold"]) and time.monotonic() < waited:
            time.sleep(0.005)  # held until the test creates the file
        time.sleep(input.get("sleep", 0.05))
        if input.get("flaky_until", 0) >= calls:
            raise TransientError(f"rate limited (call {calls})")
        if input.get("boom"):
            raise ValueError("bad input")
        if input.get("kb"):
            return {"n": input["n"], "text": "x" * 1024 * input["kb"]}
        ctx.llm_call("m", input_tokens=3, output_tokens=2)
        return {"n": input["n"], "peak": _state["peak"], "calls": calls}
    finally:
        with _lock:
            _state["active"] -= 1
"""


@pytest.fixture
def make_run(services, tmp_path):
    root = tmp_path / "exec_agents"
    root.mkdir()
    module = f"exec_agent_{uuid.uuid4().hex[:8]}"  # fresh module state per test (modules are cached per process)
    (root / f"{module}.py").write_text(textwrap.dedent(MODULE))
    app = services.app
    deployment = app.create_deployment("exec", module, str(root), [{"name": "agent", "type": "agent"}])

    def make(inputs: list[dict], **config):
        ds = app.create_dataset("exec")
        app.add_items(ds.id, [{"input": i} for i in inputs])
        version = app.publish(ds.id)
        spec = {
            "dataset_id": str(ds.id), "dataset_version_id": str(version.id),
            "target": {"type": "component", "deployment_id": str(deployment.id), "component_name": "agent",
                       "component_type": "agent"},
            "scorers": [{"type": "builtin", "name": "json_valid", "config": {}, "key": "json_valid"}],
            "config": config,
        }  # fmt: skip
        experiment = app.create_experiment("exec", "", spec)
        return app.start_run(experiment.id).id

    return make


def items_of(services, run_id):
    services.catch_up()
    return queries.run_items(services.view, str(run_id))


def test_items_run_concurrently_up_to_the_limit(services, make_run):
    # Each item waits until 4 ran at once: with fewer threads the run would never get there (each gives up after
    # two minutes and reports a lower peak), with more, some peak would exceed 4.
    run_id = make_run([{"n": n, "meet": 4, "sleep": 0.01} for n in range(16)], concurrency=4)
    assert execute(services, run_id) == "completed"
    peaks = [i["output"]["peak"] for i in items_of(services, run_id)]
    assert max(peaks) == 4 and min(peaks) == 4


def test_transient_errors_are_retried_with_every_attempt_recorded(services, make_run):
    run_id = make_run([{"n": 0, "flaky_until": 2}, {"n": 1, "flaky_until": 5}], retries=2, retry_backoff_s=0.01)
    execute(services, run_id)
    recovered, exhausted = items_of(services, run_id)
    assert (recovered["status"], recovered["attempts"], recovered["output"]["calls"]) == ("passed", 3, 3)
    failed_attempts = [e for e in recovered["events"] if e["event_type"] == "run.attempt.failed"]
    assert [e["data"]["attempt"] for e in failed_attempts] == [1, 2]
    assert (exhausted["status"], exhausted["attempts"]) == ("errored", 3)
    assert exhausted["error"] == "TransientError: rate limited (call 3)"


def test_a_slow_item_times_out_as_errored_and_the_run_goes_on(services, make_run, tmp_path):
    released = tmp_path / "release"
    run_id = make_run([{"n": 0, "hold": str(released)}, {"n": 1}], timeout_s=0.3)
    try:
        assert execute(services, run_id) == "completed"  # while item 0 is still held: the run did not wait for it
    finally:
        release(released)
    slow, fast = items_of(services, run_id)
    assert (slow["status"], slow["error"]) == ("errored", "TimeoutError: no result within 0.3 s")
    assert fast["status"] == "passed"


def test_an_exception_in_a_component_is_an_errored_item(services, make_run):
    run_id = make_run([{"n": 0, "boom": True}, {"n": 1}])
    execute(services, run_id)
    bad, good = items_of(services, run_id)
    assert (bad["status"], bad["error"], bad["scores"]) == ("errored", "ValueError: bad input", [])
    assert good["status"] == "passed" and good["tokens"] == 5


def test_repetitions_are_run_items_with_pass_at_k_and_flaky_items(services, make_run):
    run_id = make_run([{"n": 0}, {"n": 1, "boom": True}], repetitions=3)
    execute(services, run_id)
    items = items_of(services, run_id)
    assert [(i["position"], i["repetition"]) for i in items] == [(0, 0), (1, 1), (2, 2), (3, 0), (4, 1), (5, 2)]
    assert len({i["id"] for i in items}) == 6
    summary = operations.summary(services, str(run_id))
    assert summary["repetitions"]["k"] == 3
    assert (summary["repetitions"]["pass_at_k"], summary["repetitions"]["pass_hat_k"]) == (0.5, 0.5)


def test_summary_reports_latency_percentiles_and_tokens(services, make_run):
    run_id = make_run([{"n": n, "sleep": 0.01 * n} for n in range(10)])
    execute(services, run_id)
    summary = operations.summary(services, str(run_id))
    assert summary["total_tokens"] == 50
    durations = [item["duration_ms"] for item in items_of(services, run_id)]
    cuts = statistics.quantiles(durations, n=100, method="inclusive")  # linear between closest ranks
    assert summary["latency_ms"]["p50"] == pytest.approx(cuts[49], abs=1e-9)
    assert summary["latency_ms"]["p95"] == pytest.approx(cuts[94], abs=1e-9)
    assert summary["latency_ms"]["max"] == max(durations)
    assert 0 < summary["latency_ms"]["p50"] < summary["latency_ms"]["p95"] < summary["latency_ms"]["max"]


def test_a_cancel_stops_dispatch_while_an_item_is_still_running(services, make_run, tmp_path):
    # Items 0-4 run at once, item 5 is held until released, 40 in all, one at a time. The run is cancelled while
    # item 5 runs: the worker polls the run and stops without waiting for an item to finish (a worker that only
    # noticed a cancel when it saves results would wait on item 5 forever).
    released, started = tmp_path / "release", tmp_path / "started.log"
    held = 5
    inputs = [{"n": n, "sleep": 0.01, "log": str(started), **({"hold": str(released)} if n >= held else {})}
              for n in range(40)]  # fmt: skip
    run_id = make_run(inputs, concurrency=1)
    before = item_workers()
    worker = threading.Thread(target=execute, args=(services, run_id))
    worker.start()
    try:
        wait_until(lambda: services.app.get(Run, run_id, "run").next_position == held, message="items not recorded")
        wait_until(lambda: started_items(started) == list(range(held + 1)), message="item 5 did not start")
        services.app.cancel_run(run_id)
        wait_until(lambda: not worker.is_alive(), message="the worker did not stop while item 5 ran")
    finally:
        release(released)
    wait_until(lambda: not item_workers() - before, message="item threads left")  # so none can start an item
    assert started_items(started) == list(range(held + 1))  # nothing was dispatched after the cancel
    run = services.app.get(Run, run_id, "run")
    assert (run.status, run.next_position) == ("cancelled", held)
    assert [item["position"] for item in items_of(services, run_id)] == list(range(held))


def item_workers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "item-worker" and t.is_alive()}


def started_items(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


@pytest.mark.parametrize(
    "config",
    [{"concurrency": 0}, {"concurrency": 1000}, {"timeout_s": -1}, {"retries": 11}, {"retry_backoff_s": "x"}],
)
def test_bad_execution_config_is_rejected(config):
    with pytest.raises(Invalid) as info:
        check_config(config)
    assert info.value.field == f"config.{next(iter(config))}"


def test_an_output_too_big_to_save_is_an_errored_item_and_big_outputs_split_chunks(services, make_run):
    run_id = make_run([{"n": 0, "kb": 3000}, *({"n": n, "kb": 300} for n in range(1, 9))], concurrency=4)
    assert execute(services, run_id) == "completed"
    huge, *big = items_of(services, run_id)
    assert (huge["status"], huge["output"], huge["scores"]) == ("errored", None, [])
    assert huge["error"].startswith("OutputTooLarge: the item's output, trace and scores take")
    assert [e["event_type"] for e in huge["events"]] == ["run.started", "run.failed"]
    assert all(item["status"] == "passed" and len(item["output"]["text"]) == 300 * 1024 for item in big)
    assert services.app.get(Run, run_id, "run").chunks >= 3  # 8 x 300 KB do not go in one save
