"""The run gate, `--config` validation and run comparison: boundaries, messages and the full comparison shape."""

from __future__ import annotations

import pytest

from agnt5_evals.domain.compare import compare
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.gates import check_config, pass_rate, verdict

# --config -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"passed_threshold": 0},
        {"passed_threshold": 1},
        {"passed_threshold": 0.5},
        {"repetitions": 1, "concurrency": 1, "retries": 0},
        {"repetitions": 100, "concurrency": 256, "retries": 10},
        {"timeout_s": None},
        {"timeout_s": 0, "retry_backoff_s": 0},
        {"timeout_s": 86400, "retry_backoff_s": 86400},
        {"timeout_s": 0.5, "retry_backoff_s": 2.5},
        {"metadata": {"anything_else": "is kept"}},
        {"source": "agnt5_sdk_self_improvement_loop", "quality_case_id": "qc-1", "eval_lane": "fast"},
    ],
)
def test_a_valid_config_is_accepted_as_given(config):
    assert check_config(config) is config


@pytest.mark.parametrize("config", [[], "x", None, 1])
def test_a_config_that_is_not_an_object_is_rejected(config):
    with pytest.raises(Invalid) as caught:
        check_config(config)
    assert str(caught.value) == "config: must be a JSON object, for example '{\"passed_threshold\": 1}'"


@pytest.mark.parametrize("threshold", [-0.01, 1.01, 2, "1", True, None])
def test_passed_threshold_must_be_a_number_from_0_to_1(threshold):
    with pytest.raises(Invalid) as caught:
        check_config({"passed_threshold": threshold})
    assert caught.value.field == "config.passed_threshold"
    assert caught.value.message == f"passed_threshold must be a number between 0 and 1, got {threshold!r}"


@pytest.mark.parametrize(("key", "low", "high"), [("repetitions", 1, 100), ("concurrency", 1, 256), ("retries", 0, 10)])
@pytest.mark.parametrize("off", ["below", "above", "float", "bool", "none"])
def test_integer_settings_must_be_integers_within_their_range(key, low, high, off):
    value = {"below": low - 1, "above": high + 1, "float": float(low), "bool": True, "none": None}[off]
    with pytest.raises(Invalid) as caught:
        check_config({key: value})
    assert caught.value.field == f"config.{key}"
    assert caught.value.message == f"{key} must be an integer from {low} to {high}, got {value!r}"


@pytest.mark.parametrize("key", ["timeout_s", "retry_backoff_s"])
@pytest.mark.parametrize("value", [-1, -0.5, 86400.5, True, "5"])
def test_second_settings_must_be_numbers_from_0_to_86400(key, value):
    with pytest.raises(Invalid) as caught:
        check_config({key: value})
    assert caught.value.field == f"config.{key}"
    assert caught.value.message == f"{key} must be a number of seconds from 0 to 86400, got {value!r}"


def test_only_timeout_s_may_be_null():
    with pytest.raises(Invalid, match="retry_backoff_s must be a number of seconds"):
        check_config({"retry_backoff_s": None})


def test_a_null_timeout_does_not_skip_checking_the_backoff():
    with pytest.raises(Invalid, match="retry_backoff_s"):
        check_config({"timeout_s": None, "retry_backoff_s": -1})


# the gate -------------------------------------------------------------------------------------------------------


def test_pass_rate_of_nothing_is_zero():
    assert pass_rate(0, 0) == 0.0
    assert pass_rate(1, 4) == 0.25


def test_an_empty_run_never_passes_the_gate():
    assert not verdict("completed", 0, 0, {"passed_threshold": 0}).gate_passed


def test_a_one_item_run_that_passed_passes_the_gate():
    assert verdict("completed", 1, 1, {}).gate_passed


def test_the_verdict_reports_the_counts_rate_and_threshold_it_decided_on():
    v = verdict("completed", 4, 3, {"passed_threshold": 0.5})
    assert (v.status, v.total, v.passed_items, v.pass_rate, v.threshold, v.gate_passed) == (
        "completed", 4, 3, 0.75, 0.5, True
    )  # fmt: skip


# compare --------------------------------------------------------------------------------------------------------


def item(did: str, status: str, repetition: int = 0, **scores: float) -> dict:
    return {"dataset_item_id": did, "repetition": repetition, "run_item_id": f"{did}{repetition}-{status}",
            "status": status, "scores": scores}  # fmt: skip


def test_compare_reports_sides_flips_movement_and_unpaired_items():
    base = [item("a", "passed", s=1.0), item("b", "failed", s=0.0), item("gone", "passed", s=1.0)]
    other = [item("a", "failed", s=0.5, t=1.0), item("b", "passed", s=1.0), item("new", "failed", s=0.0)]
    result = compare(base, other)
    for key in ("paired_pass_rate_delta", "pass_rate_ci95", "mcnemar_p_value", "verdict"):
        result.pop(key)
    for row in result["scorers"]:
        for key in ("paired_items", "mean_delta_ci95", "base_pass_rate", "compare_pass_rate", "pass_rate_delta",
                    "pass_rate_ci95"):  # fmt: skip
            row.pop(key)
    assert result == {
        "paired_items": 2,
        "base": {"total": 3, "passed": 2, "pass_rate": 2 / 3},
        "compare": {"total": 3, "passed": 1, "pass_rate": 1 / 3},
        "pass_rate_delta": 1 / 3 - 2 / 3,
        "scorers": [
            {"scorer": "s", "base_mean": 2 / 3, "compare_mean": 0.5, "delta": 0.5 - 2 / 3},
            {"scorer": "t", "base_mean": None, "compare_mean": 1.0, "delta": None},
        ],
        "newly_failing": [
            {"dataset_item_id": "a", "repetition": 0, "base_run_item_id": "a0-passed",
             "compare_run_item_id": "a0-failed", "base_status": "passed", "compare_status": "failed"},
        ],
        "newly_passing": [
            {"dataset_item_id": "b", "repetition": 0, "base_run_item_id": "b0-failed",
             "compare_run_item_id": "b0-passed", "base_status": "failed", "compare_status": "passed"},
        ],
        "only_in_base": ["gone"],
        "only_in_compare": ["new"],
    }  # fmt: skip


def test_a_scorer_only_in_the_base_run_has_no_compare_mean_and_no_delta():
    (row,) = compare([item("a", "passed", old=1.0)], [item("a", "passed")])["scorers"]
    assert row == {"scorer": "old", "base_mean": 1.0, "compare_mean": None, "delta": None, "paired_items": 0,
                   "mean_delta_ci95": None, "base_pass_rate": None, "compare_pass_rate": None,
                   "pass_rate_delta": None, "pass_rate_ci95": None}  # fmt: skip


def test_flips_are_listed_in_dataset_item_order():
    base = [item("c", "passed"), item("a", "passed"), item("b", "passed")]
    other = [item("b", "failed"), item("c", "failed"), item("a", "failed")]
    assert [f["dataset_item_id"] for f in compare(base, other)["newly_failing"]] == ["a", "b", "c"]
