"""Item pass, the run gate and run comparison: pure rules."""

from __future__ import annotations

import pytest

from agnt5_evals.domain.compare import compare
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.gates import check_config, item_status, verdict


def test_item_passes_only_when_every_scorer_passed():
    assert item_status(None, [{"passed": True}, {"passed": True}]) == "passed"
    assert item_status(None, [{"passed": True}, {"passed": False}]) == "failed"
    assert item_status("RuntimeError: boom", []) == "errored"


def test_gate_passes_at_threshold_and_fails_below():
    assert verdict("completed", 4, 3, {"passed_threshold": 0.75}).exit_code == 0
    assert verdict("completed", 4, 2, {"passed_threshold": 0.75}).exit_code == 2


def test_gate_default_threshold_is_one():
    assert verdict("completed", 3, 3, {}).gate_passed
    assert not verdict("completed", 3, 2, {}).gate_passed


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_failed_or_cancelled_run_exits_3_whatever_the_pass_rate(status):
    assert verdict(status, 2, 2, {"passed_threshold": 0}).exit_code == 3


@pytest.mark.parametrize(
    "config", [{"passed_threshold": 1.5}, {"passed_threshold": "1"}, {"passed_threshold": True}, {"repetitions": 0}]
)
def test_bad_config_names_the_field(config):
    with pytest.raises(Invalid) as info:
        check_config(config)
    assert info.value.field == f"config.{next(iter(config))}"


def item(did, status, **scores):
    return {"dataset_item_id": did, "repetition": 0, "run_item_id": f"r-{did}-{status}", "status": status,
            "scores": scores}  # fmt: skip


def test_compare_reports_flips_and_movement():
    base = [item("a", "passed", s=1.0), item("b", "failed", s=0.0), item("c", "passed", s=1.0)]
    other = [item("a", "failed", s=0.0), item("b", "passed", s=1.0), item("c", "passed", s=1.0), item("d", "passed")]
    result = compare(base, other)
    assert [f["dataset_item_id"] for f in result["newly_failing"]] == ["a"]
    assert [f["dataset_item_id"] for f in result["newly_passing"]] == ["b"]
    assert result["only_in_compare"] == ["d"] and result["only_in_base"] == []
    (row,) = result["scorers"]
    assert {k: row[k] for k in ("scorer", "base_mean", "compare_mean", "delta", "paired_items")} == {
        "scorer": "s", "base_mean": 2 / 3, "compare_mean": 2 / 3, "delta": 0.0, "paired_items": 3
    }  # fmt: skip
    low, high = row["mean_delta_ci95"]
    assert low < 0 < high  # one item down by 1, one up by 1: no movement to speak of
    assert result["verdict"] == "within noise" and result["mcnemar_p_value"] == 1.0
    assert result["pass_rate_delta"] == pytest.approx(3 / 4 - 2 / 3)
