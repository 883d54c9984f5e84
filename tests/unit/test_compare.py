"""Comparing two runs: the paired pass-rate interval, per-scorer pass movement, the verdict, comparability."""

from __future__ import annotations

from typing import Any

from agnt5_evals.domain.compare import comparability, compare


def item(did: str, status: str, **scores: float) -> dict[str, Any]:
    return {"dataset_item_id": did, "repetition": 0, "run_item_id": f"{did}-{status}", "status": status,
            "scores": scores, "passed": {key: value >= 0.5 for key, value in scores.items()}}  # fmt: skip


def test_a_broad_regression_is_significant_with_an_interval_below_zero() -> None:
    base = [item(f"d{i}", "passed", s=1.0) for i in range(60)]
    other = [item(f"d{i}", "failed" if i < 20 else "passed", s=0.0 if i < 20 else 1.0) for i in range(60)]
    result = compare(base, other, seed=3)
    assert result["verdict"] == "significant regression"
    assert result["mcnemar_p_value"] == 2 / 2**20
    low, high = result["pass_rate_ci95"]
    assert low <= result["paired_pass_rate_delta"] == -20 / 60 <= high < 0
    (row,) = result["scorers"]
    assert (row["base_pass_rate"], row["compare_pass_rate"]) == (1.0, 40 / 60)
    assert row["pass_rate_ci95"][1] < 0 and row["mean_delta_ci95"][1] < 0


def test_two_flips_each_way_are_within_noise() -> None:
    base = [item(f"d{i}", "passed" if i % 10 else "failed", s=1.0) for i in range(40)]
    other = [item(f"d{i}", "passed" if i % 10 != 1 else "failed", s=1.0) for i in range(40)]
    result = compare(base, other)
    assert len(result["newly_failing"]) == len(result["newly_passing"]) == 4
    assert result["verdict"] == "within noise"
    low, high = result["pass_rate_ci95"]
    assert low < 0 < high


def run(**changes: Any) -> dict[str, Any]:
    scorer = {"type": "builtin", "name": "contains", "key": "contains", "config": {"value": "a"}}
    spec = {"target": {"deployment_id": "dep", "code_digest": "sha256:a"}, "scorers": [scorer]}
    row = {"dataset_version_id": "v1", "spec": spec}
    for key, value in changes.items():
        if key == "dataset_version_id":
            row[key] = value
        else:
            spec[key] = value
    return row


def test_runs_of_the_same_measurement_are_comparable() -> None:
    assert comparability(run(), run()) == []


def test_every_kind_of_difference_is_named_and_marked() -> None:
    other_scorers = [{"type": "builtin", "name": "contains", "key": "contains", "config": {"value": "b"}},
                     {"type": "builtin", "name": "json_valid", "key": "json_valid", "config": {}}]  # fmt: skip
    found = comparability(run(), run(dataset_version_id="v2", scorers=other_scorers))
    assert [(d["field"], d["strict"]) for d in found] == [
        ("dataset_version_id", True), ("scorers", True), ("scorers.contains", True)
    ]  # fmt: skip


def test_other_code_is_refused_only_under_one_deployment() -> None:
    (same,) = comparability(run(), run(target={"deployment_id": "dep", "code_digest": "sha256:b"}))
    assert (same["field"], same["strict"]) == ("code_digest", True)
    (other,) = comparability(run(), run(target={"deployment_id": "dep2", "code_digest": "sha256:b"}))
    assert (other["field"], other["strict"]) == ("code_digest", False)


def test_the_same_differences_get_the_same_interval_within_a_comparison() -> None:
    base = [item(f"d{i}", "passed", s=1.0) for i in range(8)]
    other = [item(f"d{i}", "failed" if i < 3 else "passed", s=0.0 if i < 3 else 1.0) for i in range(8)]
    result = compare(base, other, seed=17)
    (row,) = result["scorers"]
    assert row["pass_rate_ci95"] == result["pass_rate_ci95"]
