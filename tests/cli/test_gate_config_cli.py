"""``experiments create --config '{"gate_config": {...}}'`` and no scorers from the CLI: the control plane's gate rules
honoured next to passed_threshold (summary, ``reports ci`` and ``--wait`` exit codes), the default scorer's note on
stderr, and bad rules refused naming the field."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import data, out

pytestmark = pytest.mark.both_modes


def setup(agnt5, agent_dir) -> tuple[str, str, str]:
    ds = out(agnt5("datasets", "create", "--name", "echoes"))
    rows = [{"input": {"n": n}, "expected_output": {"n": n if n < 3 else -n}} for n in range(1, 5)]
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps(r) for r in rows))
    version = out(agnt5("datasets", "publish", ds))
    deployment = out(agnt5("deployments", "create", "--name", "good", "--module", "good_agent", "--path",
                           str(agent_dir)))  # fmt: skip
    return ds, version, deployment


def create(agnt5, ids: tuple[str, str, str], config: dict, code: int = 0):
    ds, version, deployment = ids
    return agnt5("experiments", "create", "--name", "echo-gate", "--dataset-id", ds, "--dataset-version-id", version,
                 "--deployment-id", deployment, "--component-name", "echo", "--component-type", "function",
                 "--config", json.dumps(config), code=code)  # fmt: skip


def test_gate_config_in_config_and_the_default_scorer(agnt5, agent_dir):
    ids = setup(agnt5, agent_dir)  # items 3 and 4 expect something else: 2 of 4 pass
    lenient = create(agnt5, ids, {"passed_threshold": 0.5, "gate_config": {"max_failed_items": 2}})
    assert "note: no scorers given: using exact_match" in lenient.stderr
    passed = data(agnt5("experiments", "run", out(lenient), "--wait", "--format", "json"))
    assert passed["passed"] is True and passed["gate"]["passed"] is True
    assert [(r["rule"], r["observed"], r["threshold"], r["passed"]) for r in passed["gate"]["rules"]] == [
        ("min_pass_rate", 0.5, 0.5, True), ("max_failed_items", 2, 2, True)]  # fmt: skip
    strict = create(agnt5, ids, {"passed_threshold": 0.5, "gate_config": {"max_failed_items": 1}})
    failed = agnt5("experiments", "run", out(strict), "--wait", code=2)
    assert "FAILED (passed_threshold 0.5, max_failed_items 1)" in failed.stdout
    assert "  pass     pass rate 50.0% >= passed_threshold 0.5\n" in failed.stdout
    assert "  FAIL     2 item(s) failed or errored > max_failed_items 1\n" in failed.stdout
    assert "gate failed: 2 item(s) failed or errored > max_failed_items 1" in failed.stderr
    stricter_rate = create(agnt5, ids, {"passed_threshold": 0.5, "gate_config": {"min_pass_rate": 0.75}})
    run = agnt5("experiments", "run", out(stricter_rate), "--wait", code=2)
    assert "pass rate 50.0% < passed_threshold 0.75" in run.stderr
    run_id = data(agnt5("experiments", "runs", "list", out(stricter_rate), "--format", "json"))[0]["id"]
    assert agnt5("reports", "ci", run_id, code=2).stdout


def test_bad_gate_rules_are_refused_naming_the_field(agnt5, agent_dir):
    ids = setup(agnt5, agent_dir)
    refused = create(agnt5, ids, {"gate_config": {"max_failed_items": -1}}, code=1)
    assert refused.stderr.startswith("error: --config: max_failed_items must be an integer from 0")
    unknown = create(agnt5, ids, {"gate_config": {"min_passrate": 1}}, code=1)
    assert "error: --config: unknown gate rule 'min_passrate'" in unknown.stderr
