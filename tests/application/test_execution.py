"""The executor: concurrency, timeouts, retries with backoff, repetitions, errors inside components."""

from __future__ import annotations

import statistics
import textwrap
import time
import uuid

import pytest

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.gates import check_config
from agnt5_evals.domain.runs import Run
from agnt5_evals.projections import queries
from agnt5_evals.services import operations
from tests.support import execute

MODULE = """
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
    try:
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
    run_id = make_run([{"n": n, "sleep": 0.1} for n in range(16)], concurrency=4)
    started = time.monotonic()
    assert execute(services, run_id) == "completed"
    elapsed = time.monotonic() - started
    peaks = [i["output"]["peak"] for i in items_of(services, run_id)]
    assert max(peaks) == 4
    assert elapsed < 16 * 0.1 * 0.75  # well below sequential (1.6 s); the peak above is the real check


def test_transient_errors_are_retried_with_every_attempt_recorded(services, make_run):
    run_id = make_run([{"n": 0, "flaky_until": 2}, {"n": 1, "flaky_until": 5}], retries=2, retry_backoff_s=0.01)
    execute(services, run_id)
    recovered, exhausted = items_of(services, run_id)
    assert (recovered["status"], recovered["attempts"], recovered["output"]["calls"]) == ("passed", 3, 3)
    failed_attempts = [e for e in recovered["events"] if e["event_type"] == "run.attempt.failed"]
    assert [e["data"]["attempt"] for e in failed_attempts] == [1, 2]
    assert (exhausted["status"], exhausted["attempts"]) == ("errored", 3)
    assert exhausted["error"] == "TransientError: rate limited (call 3)"


def test_a_slow_item_times_out_as_errored_and_the_run_goes_on(services, make_run):
    run_id = make_run([{"n": 0, "sleep": 5}, {"n": 1}], timeout_s=0.3)
    started = time.monotonic()
    execute(services, run_id)
    assert time.monotonic() - started < 4
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


def test_cancel_stops_dispatch_within_a_second(services, make_run):
    import threading

    run_id = make_run([{"n": n, "sleep": 0.2} for n in range(40)], concurrency=2)
    worker = threading.Thread(target=execute, args=(services, run_id))
    worker.start()
    time.sleep(0.6)
    services.app.cancel_run(run_id)
    cancelled_at = time.monotonic()
    worker.join(timeout=5)
    assert not worker.is_alive() and time.monotonic() - cancelled_at < 1.0
    run = services.app.get(Run, run_id, "run")
    assert run.status == "cancelled" and 0 < run.next_position < 40
    assert len(items_of(services, run_id)) == run.next_position


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
