"""The gate's per-scorer rules and its baseline rule over real runs, on both stores: a real regression fails, the
same results twice pass, a small noisy drop passes, ``last_passed`` finds the latest earlier passing run (or is
skipped), and a baseline that cannot be used fails the rule saying why."""

from __future__ import annotations

import textwrap
from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.components import discover
from agnt5_evals.domain.errors import Invalid, NotFound
from agnt5_evals.projections import queries
from agnt5_evals.services import experiments, gates, operations
from tests.support import execute

NEARLY = '''
from agnt5_evals import component


@component("support_agent", type="agent")
def support_agent(ctx, input):
    """Good, except for order 7: broken JSON."""
    if input["order_id"] == 7:
        return "{not json"
    return {"answer": f"Order {input['order_id']} is shipped"}
'''


def _experiment(svc: Services, world: dict[str, Any], config: dict[str, Any], scorers: list[str] | None = None) -> UUID:
    target = {"type": "component", "deployment_id": str(world["good"]), "component_name": "support_agent",
              "component_type": "agent"}  # fmt: skip
    row = experiments.create_experiment(svc, "gated", "", world["dataset"], world["version"], target,
                                        scorers or ["json_valid"], None, config)  # fmt: skip
    return UUID(row["id"])


def _run(svc: Services, experiment: UUID, deployment: UUID, config: dict[str, Any] | None = None) -> dict[str, Any]:
    run_id = svc.app.start_run(experiment, deployment_id=deployment, config=config).id
    execute(svc, run_id)
    svc.catch_up()
    return operations.summary(svc, str(run_id))


def _rules(summary: dict[str, Any]) -> list[tuple[str, bool | None]]:
    return [(r["rule"], r["passed"]) for r in summary["gate"]["rules"]]


def test_a_scorer_rule_fails_the_run_and_says_which_scorer(services, world):
    lenient = {"passed_threshold": 0, "gate_config": {"scorers": {"json_valid": {"min_pass_rate": 0.5}}}}
    passed = _run(services, _experiment(services, world, lenient), world["bad"])
    assert passed["passed"] is True and passed["gate"]["passed"] is True
    strict = {"passed_threshold": 0, "gate_config": {"scorers": {"json_valid": {"min_mean_score": 0.6}}}}
    failed = _run(services, _experiment(services, world, strict), world["bad"])
    assert failed["passed"] is False
    [rule] = [r for r in failed["gate"]["rules"] if r["scorer"] == "json_valid"]
    assert (rule["rule"], rule["observed"], rule["threshold"], rule["passed"]) == ("scorer_min_mean_score", 0.5, 0.6,
                                                                                   False)  # fmt: skip
    assert rule["message"] == "json_valid mean score 0.500 < min_mean_score 0.6"


def test_a_scorer_rule_for_a_scorer_the_experiment_lacks_is_refused(services, world):
    config = {"gate_config": {"scorers": {"similarity": {"min_mean_score": 0.8}}}}
    with pytest.raises(Invalid) as caught:
        _experiment(services, world, config)
    assert caught.value.field == "config.gate_config.scorers.similarity"
    eid = _experiment(services, world, {"gate_config": {"scorers": {"json_valid": {"min_pass_rate": 1}}}})
    with pytest.raises(Invalid) as dropped:  # an edit that removes the scorer the rule names
        experiments.update_experiment(services, eid, builtin_scorers=["exact_match"])
    assert dropped.value.field == "config.gate_config.scorers.json_valid"
    with pytest.raises(Invalid) as overridden:  # a run's override is checked against the run's scorers
        services.app.start_run(eid, config={"gate": {"scorers": {"exact_match": {"min_pass_rate": 1}}}})
    assert overridden.value.field == "config.gate.scorers.exact_match"


def test_a_real_regression_against_the_baseline_fails(services, world):
    eid = _experiment(services, world, {"passed_threshold": 0})
    base = _run(services, eid, world["good"])
    candidate = _run(services, eid, world["bad"], {"gate": {"baseline": base["id"], "max_regression": 0.02}})
    assert candidate["passed"] is False and _rules(candidate) == [("min_pass_rate", True), ("max_regression", False)]
    rule = candidate["gate"]["rules"][1]
    assert (rule["baseline_run_id"], rule["observed"], rule["threshold"], rule["paired_items"], rule["alpha"]) == (
        base["id"], -0.5, -0.02, 10, 0.05)  # fmt: skip
    assert rule["upper_bound"] < -0.02
    assert rule["message"].startswith(f"pass-rate delta vs baseline {base['id']}: -50.0 pts (95% upper bound ")
    assert gates.gate_verdict(services, candidate["id"])["exit_code"] == 2


def test_the_same_results_twice_pass_and_a_small_noisy_drop_passes(services, world, tmp_path):
    eid = _experiment(services, world, {"passed_threshold": 0})
    base = _run(services, eid, world["good"])
    same = _run(services, eid, world["good"], {"gate": {"baseline": base["id"]}})
    assert same["passed"] is True and same["gate"]["rules"][1]["observed"] == 0.0
    (tmp_path / "nearly_agent.py").write_text(textwrap.dedent(NEARLY))
    nearly = services.app.create_deployment("nearly", "nearly_agent", str(tmp_path),
                                            discover("nearly_agent", str(tmp_path))).id  # fmt: skip
    noisy = _run(services, eid, nearly, {"gate": {"baseline": base["id"], "max_regression": 0.02}})
    rule = noisy["gate"]["rules"][1]
    assert noisy["passed"] is True and (rule["observed"], rule["passed"]) == (-0.1, True)
    assert rule["upper_bound"] >= -0.02  # one flip in ten is within noise


def test_last_passed_is_skipped_without_an_earlier_passing_run_then_uses_the_latest_one(services, world):
    eid = _experiment(services, world, {"gate_config": {"baseline": "last_passed", "max_regression": 0.02}})
    first = _run(services, eid, world["good"])
    assert first["passed"] is True and _rules(first)[1] == ("max_regression", None)
    assert first["gate"]["rules"][1]["message"] == gates.NO_LAST_PASSED
    failing = _run(services, eid, world["bad"])  # fails its pass rate: never a baseline
    assert failing["passed"] is False and failing["gate"]["rules"][1]["baseline_run_id"] == first["id"]
    latest = _run(services, eid, world["good"])
    assert latest["passed"] is True and latest["gate"]["rules"][1]["baseline_run_id"] == first["id"]
    again = _run(services, eid, world["good"])
    assert again["gate"]["rules"][1]["baseline_run_id"] == latest["id"]


def test_a_baseline_that_cannot_be_used_fails_the_rule_or_is_refused(services, world):
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFound) as caught:
        _experiment(services, world, {"gate_config": {"baseline": missing}})
    assert caught.value.field == "config.gate_config.baseline"
    eid = _experiment(services, world, {})
    running = services.app.start_run(eid).id  # no worker: it stays running
    result = _run(services, eid, world["good"], {"gate": {"baseline": str(running)}})
    assert result["passed"] is False and result["gate"]["rules"][1]["message"] == (
        f"baseline run {running} is running, not completed: nothing to compare with")  # fmt: skip


def test_a_regression_experiment_keeps_the_gate_but_not_the_baseline(services, world):
    eid = _experiment(services, world, {"passed_threshold": 0})
    base = _run(services, eid, world["good"])
    gate = {"baseline": base["id"], "max_regression": 0.02, "scorers": {"json_valid": {"min_pass_rate": 0.5}}}
    candidate = _run(services, eid, world["bad"], {"gate": gate})
    captured = operations.regression_dataset(services, candidate["id"], "regressions", [])
    config = queries.experiment(services.view, captured["experiment_id"])["definition"]["config"]
    assert config["gate"] == {"scorers": {"json_valid": {"min_pass_rate": 0.5}}}
