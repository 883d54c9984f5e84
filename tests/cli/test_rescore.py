"""Rescoring a completed run: recorded outputs scored again, nothing executed again (shadow and replacing)."""

from __future__ import annotations

from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.domain.errors import Conflict
from agnt5_evals.services import operations
from tests.cli.conftest import data, log_head, on_the_server, out
from tests.support import release

pytestmark = pytest.mark.both_modes

CONTAINS = '{{"name": "contains", "config": {{"pattern": "{}"}}}}'


def rescore(agnt5, run_id, *args, code=0):
    return data(agnt5("experiments", "runs", "rescore", run_id, *args, "--wait", "--format", "json", code=code))


def current_scores(agnt5, run_id):
    return data(agnt5("scores", "list", "--run-id", run_id, "--format", "json"))


def test_a_shadow_rescore_records_new_scores_and_leaves_the_verdict(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                     "--format", "json", code=2))  # fmt: skip
    before = current_scores(agnt5, run["id"])
    shadow = rescore(agnt5, run["id"], "--builtin-scorer", CONTAINS.format("Order"), "--reason", "try contains")
    assert (shadow["status"], shadow["replace_latest"], shadow["total_items"]) == ("completed", False, 6)
    # Merged with the run's own scores, odd orders still fail: no item changed status.
    assert (shadow["passed_items"], shadow["failed_items"], shadow["newly_failing"], shadow["newly_passing"]) == (
        3, 3, [], []
    )  # fmt: skip
    recorded = data(agnt5("scores", "list", "--rescore-id", shadow["id"], "--format", "json"))
    assert len(recorded) == 6 and {s["scorer_key"] for s in recorded} == {"contains"}
    assert {s["is_current"] for s in recorded} == {False} and sum(s["passed"] for s in recorded) == 3
    assert current_scores(agnt5, run["id"]) == before
    assert agnt5("reports", "ci", run["id"], code=2)
    listed = data(agnt5("experiments", "runs", "rescores", run["id"], "--format", "json"))
    assert [(r["id"], r["status"], r["reason"]) for r in listed] == [(shadow["id"], "completed", "try contains")]


def test_replacing_rescores_change_the_run_verdict_and_aggregates(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    assert run["passed_items"] == 6

    strict = rescore(agnt5, run["id"], "--builtin-scorer", CONTAINS.format("delivered"), "--replace-latest", code=2)
    assert (strict["failed_items"], len(strict["newly_failing"])) == (6, 6)
    show = data(agnt5("experiments", "runs", "show", run["id"], "--format", "json"))
    assert (show["passed_items"], show["failed_items"], show["gate"]["passed"]) == (0, 6, False)
    assert {s["scorer"]: (s["passed"], s["failed"]) for s in show["scorers"]} == {
        "json_valid": (6, 0), "tool_called": (6, 0), "contains": (0, 6),
    }  # fmt: skip
    agnt5("reports", "ci", run["id"], code=2)

    lenient = rescore(agnt5, run["id"], "--builtin-scorer", CONTAINS.format("shipped"), "--replace-latest")
    assert (lenient["passed_items"], len(lenient["newly_passing"])) == (6, 6)
    show = data(agnt5("experiments", "runs", "show", run["id"], "--format", "json"))
    assert (show["passed_items"], show["gate"]["passed"]) == (6, True)
    assert [(r["rescore_id"], r["status"]) for r in show["replaced_by"]] == [
        (strict["id"], "completed"), (lenient["id"], "completed"),
    ]  # fmt: skip
    assert f"rescored   by {lenient['id']} (completed, 6/6 items)" in out(
        agnt5("experiments", "runs", "show", run["id"])
    )
    contains = next(s for s in show["scorers"] if s["scorer"] == "contains")
    assert (contains["passed"], contains["failed"], contains["mean_score"]) == (6, 0, 1.0)
    agnt5("reports", "ci", run["id"])

    scores = current_scores(agnt5, run["id"])
    assert len(scores) == 18 and all(s["is_current"] for s in scores)
    assert {s["rescore_id"] for s in scores if s["scorer_key"] == "contains"} == {lenient["id"]}
    failures = data(agnt5("reports", "failures", run["id"], "--format", "json"))
    assert failures == []

    # The read model rebuilt from the log answers the same (rescores folded in log order, in big batches).
    before = [agnt5("experiments", "runs", "show", run["id"], "--format", "json").stdout,
              agnt5("scores", "list", "--run-id", run["id"], "--format", "json").stdout]  # fmt: skip
    with on_the_server():
        agnt5("projections", "rebuild")
    after = [agnt5("experiments", "runs", "show", run["id"], "--format", "json").stdout,
             agnt5("scores", "list", "--run-id", run["id"], "--format", "json").stdout]  # fmt: skip
    assert after == before


def test_a_rescore_of_chosen_items_with_the_runs_own_scorers(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                     "--format", "json", code=2))  # fmt: skip
    items = data(agnt5("reports", "failures", run["id"], "--format", "json"))
    chosen = [items[0]["id"], items[1]["id"]]
    again = rescore(agnt5, run["id"], "--run-item-id", chosen[0], "--run-item-id", chosen[1], "--replace-latest",
                    code=2)  # fmt: skip
    assert (again["total_items"], again["failed_items"], again["newly_passing"]) == (2, 2, [])
    recorded = data(agnt5("scores", "list", "--rescore-id", again["id"], "--format", "json"))
    assert sorted({s["run_item_id"] for s in recorded}) == sorted(chosen)
    assert {s["scorer_key"] for s in recorded} == {"json_valid", "tool_called"}
    show = data(agnt5("experiments", "runs", "show", run["id"], "--format", "json"))
    assert (show["passed_items"], show["failed_items"]) == (3, 3)  # the same scorers give the same verdicts


def test_an_idempotency_key_starts_one_rescore(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    first = rescore(agnt5, run["id"], "--idempotency-key", "ci-42")
    second = rescore(agnt5, run["id"], "--idempotency-key", "ci-42")
    assert first["id"] == second["id"]
    assert len(data(agnt5("experiments", "runs", "rescores", run["id"], "--format", "json"))) == 1


def test_bad_rescores_are_one_line_and_write_nothing(agnt5, page):
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    head = log_head()
    missing = "00000000-0000-4000-8000-000000000000"
    for args, message in (
        ([missing], f"run {missing} not found"),
        (["nope"], "RUN_ID"),
        ([run["id"], "--run-item-id", missing], "--run-item-id"),
        ([run["id"], "--builtin-scorer", "contains"], "contains"),
        ([run["id"], "--builtin-scorer", "{bad"], "--builtin-scorer"),
        ([run["id"], "--scorer-id", missing], "--scorer-id"),
    ):
        result = agnt5("experiments", "runs", "rescore", *args, code=1)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert log_head() == head


def test_only_a_completed_run_and_one_replacing_rescore_at_a_time(agnt5, page, agent_dir):
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    with build() as svc:
        svc.app.start_rescore(UUID(run["id"]), [{"name": "json_valid", "key": "json_valid", "config": {}}], [], 6,
                              replace_latest=True)  # fmt: skip
        with pytest.raises(Conflict, match="is being rescored"):
            svc.app.start_rescore(UUID(run["id"]), [{"name": "json_valid", "key": "json_valid", "config": {}}], [], 6,
                                  replace_latest=True)  # fmt: skip
    # The first one has no worker yet: `agnt5 worker --once` finds it and finishes it.
    with on_the_server():
        resumed = agnt5("worker", "--once")
    assert "resuming rescore" in resumed.stderr
    listed = data(agnt5("experiments", "runs", "rescores", run["id"], "--format", "json"))
    assert [r["status"] for r in listed] == ["completed"]
    agnt5("reports", "ci", run["id"])
    out(agnt5("experiments", "runs", "rescore", run["id"], "--replace-latest"))  # free again


def test_a_running_run_cannot_be_rescored(agnt5, page):
    with build() as svc:  # a run recorded as started, with no worker: it stays running
        run_id = str(svc.app.start_run(UUID(page["experiment"]), "no-worker").id)
    head = log_head()
    result = agnt5("experiments", "runs", "rescore", run_id, code=1)
    assert "only a completed run can be rescored" in result.stderr
    assert log_head() == head


def test_a_custom_scorer_rescores_in_the_worker_and_evidence_is_kept(agnt5, page, agent_dir):
    (agent_dir / "rescore_scorers.py").write_text(
        "from agnt5_evals import scorer\n\n\n@scorer('mentions_order')\ndef mentions_order(request):\n"
        "    hit = str(request['input']['order_id']) in str(request['output'])\n"
        "    return {'score': 1.0 if hit else 0.0, 'explanation': 'cites the order id' if hit else 'no order id'}\n"
    )
    dep = out(agnt5("deployments", "create", "--name", "rs", "--module", "rescore_scorers", "--path", str(agent_dir)))
    scorer = out(agnt5("scorers", "create", "--name", "mentions-order", "--deployment-id", dep, "--component-name",
                       "mentions_order"))  # fmt: skip
    run = data(agnt5("experiments", "run", page["experiment"], "--deployment-id", page["bad"], "--wait",
                     "--format", "json", code=2))  # fmt: skip
    result = rescore(agnt5, run["id"], "--scorer-id", scorer, "--replace-latest", code=2)
    # The regressed agent answers "{not json" for odd orders: no order id there, so 3 pass and 3 fail.
    assert [(s["scorer_key"], s["n_passed"], s["n"]) for s in result["scorers"]] == [("mentions-order", 3, 6)]
    recorded = data(agnt5("scores", "list", "--rescore-id", result["id"], "--format", "json"))
    failing = next(s for s in recorded if not s["passed"])
    evidence = data(agnt5("scores", "evidence", failing["id"]))
    assert evidence["scorer_output"]["explanation"] == "no order id"
    assert evidence["scorer_input"]["output"] == "{not json"


SLOW_SCORER = """
import os
import time
from agnt5_evals import scorer


@scorer("slow_check")
def slow_check(request):
    waited = time.monotonic() + 120
    while not os.path.exists(os.environ["AGNT5_TEST_HOLD"]) and time.monotonic() < waited:
        time.sleep(0.02)  # held until the test creates the file: the rescore is surely running when cancelled
    return {"score": 1.0}
"""


def test_a_cancelled_rescore_stops_keeps_what_it_recorded_and_frees_the_run(agnt5, page, agent_dir, monkeypatch,
                                                                            tmp_path):  # fmt: skip
    released = tmp_path / "release"
    monkeypatch.setenv("AGNT5_TEST_HOLD", str(released))
    (agent_dir / "slow_rescore_scorers.py").write_text(SLOW_SCORER)
    dep = out(agnt5("deployments", "create", "--name", "slow", "--module", "slow_rescore_scorers", "--path",
                    str(agent_dir)))  # fmt: skip
    slow = out(agnt5("scorers", "create", "--name", "slow-check", "--deployment-id", dep, "--component-name",
                     "slow_check"))  # fmt: skip
    agnt5("experiments", "update", page["experiment"], "--config", '{"passed_threshold": 1, "concurrency": 1}')
    run = data(agnt5("experiments", "run", page["experiment"], "--wait", "--format", "json"))
    started = data(agnt5("experiments", "runs", "rescore", run["id"], "--scorer-id", slow, "--replace-latest",
                         "--format", "json"))  # fmt: skip
    cancelled = data(agnt5("experiments", "runs", "rescore-cancel", started["id"], "--format", "json"))
    assert cancelled["status"] == "cancelled"
    release(released)
    with build() as svc:  # the worker stops at its next window or save, and records nothing more
        final = operations.wait_for_rescore(svc, started["id"], timeout=60)
    assert final is not None and final["status"] == "cancelled" and final["done_items"] < 6
    again = data(agnt5("experiments", "runs", "rescore", run["id"], "--replace-latest", "--wait", "--format", "json"))
    assert again["status"] == "completed"  # the run is free for another replacing rescore
    assert "is cancelled" in agnt5("experiments", "runs", "rescore-cancel", started["id"], code=1).stderr
