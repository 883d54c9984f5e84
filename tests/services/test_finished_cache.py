"""A finished run's summary figures and comparisons are kept per process (``services.finished``), keyed by the runs'
stamps: a rescore gives the answer a fresh computation gives, and a caller changing its answer changes no other."""

from __future__ import annotations

import json

from agnt5_evals.services import finished
from agnt5_evals.services.compare import compare_runs
from agnt5_evals.services.operations import summary
from agnt5_evals.worker.rescore import RescoreExecutor
from tests.application.test_rescore_aggregates import frac_experiment
from tests.services.test_compare_sql import before
from tests.support import execute


def fresh_compare(services, base: str, other: str) -> str:
    finished.clear()
    return json.dumps(compare_runs(services, base, other, limit=5))


def test_a_rescore_changes_the_kept_comparison_and_summary(services, world, agent_dir):
    exp, zero = frac_experiment(services, world, agent_dir)
    app = services.app
    run_ids = [app.start_run(exp).id for _ in range(2)]
    for run_id in run_ids:
        assert execute(services, run_id, chunk_items=3) == "completed"
    base, other = (str(run_id) for run_id in run_ids)
    services.catch_up()
    finished.clear()
    first = compare_runs(services, base, other, limit=5)
    first_summary = summary(services, other)
    assert len(finished._entries) == 2  # the comparison and the summary's latency figures
    first["scorers"].clear()  # a caller's change stays its own
    again = compare_runs(services, base, other, limit=5)
    assert again["scorers"] and json.dumps(again) == fresh_compare(services, base, other)
    assert json.dumps(again) == json.dumps(before(services, base, other, "", 5))

    compare_runs(services, base, other, limit=5)  # kept again, then the compared run is rescored
    written = app.start_rescore(run_ids[1], [{**zero, "key": "frac"}], [], 10, replace_latest=True)
    services.catch_up()
    assert RescoreExecutor(services, written.id).execute() == "completed"
    services.catch_up()
    after = compare_runs(services, base, other, limit=5)
    (frac_row,) = after["scorers"]
    assert frac_row["compare_mean"] == 0.0 and frac_row["base_mean"] > 0
    assert json.dumps(after) == json.dumps(before(services, base, other, "", 5))
    rescored = summary(services, other)
    assert rescored["replaced_by"] and not first_summary["replaced_by"]
    assert rescored["scorers"] != first_summary["scorers"]
    finished.clear()
    assert json.dumps(summary(services, other)) == json.dumps(rescored)


def test_a_running_run_is_not_kept(services, world, agent_dir):
    exp, _ = frac_experiment(services, world, agent_dir)
    run_id = str(services.app.start_run(exp).id)
    services.catch_up()
    finished.clear()
    summary(services, run_id)
    assert not finished._entries
