"""Rules that once could change without a failing test: compare over errored items and repetitions, `contains`
case sensitivity, and the pass rate of a running run. (Per-scorer failed counts live in the projection:
tests/projections/test_unguarded_queries.py.)"""

from __future__ import annotations

import pytest

from agnt5_evals.domain.compare import compare
from agnt5_evals.domain.reports import run_summary
from agnt5_evals.domain.scoring import ScorerInput, run_scorer


def item(did: str, status: str, repetition: int = 0, **scores: float) -> dict:
    return {"dataset_item_id": did, "repetition": repetition, "run_item_id": f"{did}-{repetition}-{status}",
            "status": status, "scores": scores}  # fmt: skip


# (a) an errored item is not a passed item -----------------------------------------------------------------------


def test_compare_counts_an_item_that_went_from_passed_to_errored_as_newly_failing():
    result = compare([item("a", "passed")], [item("a", "errored")])
    assert [(f["dataset_item_id"], f["base_status"], f["compare_status"]) for f in result["newly_failing"]] == [
        ("a", "passed", "errored")
    ]
    assert result["newly_passing"] == []


def test_compare_counts_an_item_that_went_from_errored_to_passed_as_newly_passing():
    result = compare([item("a", "errored")], [item("a", "passed")])
    assert [f["dataset_item_id"] for f in result["newly_passing"]] == ["a"]
    assert result["newly_failing"] == []


def test_compare_pass_rates_count_errored_items_as_not_passed():
    result = compare([item("a", "passed"), item("b", "errored")], [item("a", "passed"), item("b", "passed")])
    assert result["base"] == {"total": 2, "passed": 1, "pass_rate": 0.5}
    assert result["compare"] == {"total": 2, "passed": 2, "pass_rate": 1.0}
    assert result["pass_rate_delta"] == 0.5


def test_compare_sees_no_flip_between_failed_and_errored():
    result = compare([item("a", "failed")], [item("a", "errored")])
    assert (result["newly_failing"], result["newly_passing"]) == ([], [])


# (b) items pair by (dataset item, repetition) -------------------------------------------------------------------


def test_compare_pairs_each_repetition_with_the_same_repetition():
    base = [item("a", "passed", 0), item("a", "passed", 1), item("a", "failed", 2)]
    other = [item("a", "passed", 0), item("a", "failed", 1), item("a", "passed", 2)]
    result = compare(base, other)
    assert result["paired_items"] == 3
    assert [(f["dataset_item_id"], f["repetition"]) for f in result["newly_failing"]] == [("a", 1)]
    assert [(f["dataset_item_id"], f["repetition"]) for f in result["newly_passing"]] == [("a", 2)]
    assert result["newly_failing"][0]["base_run_item_id"] == "a-1-passed"
    assert result["newly_failing"][0]["compare_run_item_id"] == "a-1-failed"


def test_compare_keeps_every_repetition_in_the_pass_rates():
    base = [item("a", "passed", 0), item("a", "failed", 1)]
    other = [item("a", "passed", 0), item("a", "passed", 1)]
    result = compare(base, other)
    assert (result["base"]["total"], result["base"]["passed"]) == (2, 1)
    assert (result["compare"]["total"], result["compare"]["passed"]) == (2, 2)


def test_compare_lists_a_repetition_present_in_one_run_only():
    result = compare([item("a", "passed", 0), item("a", "passed", 1)], [item("a", "passed", 0)])
    assert (result["paired_items"], result["only_in_base"], result["only_in_compare"]) == (1, ["a"], [])


# (c) `contains` is case-sensitive unless told otherwise ---------------------------------------------------------


def contains(output: object, config: dict) -> bool:
    spec = {"type": "builtin", "name": "contains", "config": config}
    return run_scorer(spec, ScorerInput(output=output, config=config)).passed


def test_contains_is_case_sensitive_by_default():
    assert not contains("Hello World", {"pattern": "world"})
    assert not contains("hello world", {"pattern": "WORLD"})
    assert contains("Hello World", {"pattern": "World"})


def test_contains_is_case_sensitive_when_asked_explicitly():
    assert not contains("Hello World", {"pattern": "world", "case_sensitive": True})


def test_contains_ignores_case_only_when_case_sensitive_is_false():
    assert contains("Hello World", {"pattern": "wORLD", "case_sensitive": False})


# (e) a running run's pass rate is over the items done so far ----------------------------------------------------


def run_row(status: str, total: int, done: int, passed: int, failed: int, errored: int) -> dict:
    return {
        "id": "r", "name": "run", "experiment_id": "e", "experiment_version_id": "ev", "dataset_version_id": "dv",
        "spec": {"target": {"deployment_id": "d"}, "config": {"passed_threshold": 0.5}}, "status": status,
        "reason": None, "total": total, "done": done, "passed": passed, "failed": failed, "errored": errored,
        "created_at": "2026-01-01T00:00:00+00:00", "finished_at": None,
    }  # fmt: skip


def test_a_running_runs_pass_rate_is_over_the_items_done():
    summary = run_summary(run_row("running", total=10, done=4, passed=3, failed=1, errored=0), [])
    assert summary["pass_rate"] == 0.75


def test_a_running_run_with_nothing_done_has_pass_rate_zero():
    assert run_summary(run_row("running", total=10, done=0, passed=0, failed=0, errored=0), [])["pass_rate"] == 0.0


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_a_finished_runs_pass_rate_is_over_all_items(status):
    # a failed or cancelled run stops early: its items never done count as not passed
    summary = run_summary(run_row(status, total=10, done=4, passed=3, failed=1, errored=0), [])
    assert summary["pass_rate"] == 0.3
