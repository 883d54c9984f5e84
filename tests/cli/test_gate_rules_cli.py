"""``reports ci`` and ``experiments run --wait`` explain every gate rule with its numbers (table and JSON) and exit
with the documented codes; per-scorer rules and the baseline rule from the CLI; unknown config keys refused with
the closest key suggested."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.conftest import data, out

pytestmark = pytest.mark.both_modes

HALF = '''
from agnt5_evals import component


@component("answer", type="function")
def answer(input):
    """Right for even numbers only."""
    return input if input["n"] % 2 == 0 else {"n": -1}
'''
ECHO = """
from agnt5_evals import component


@component("answer", type="function")
def answer(input):
    return input
"""


def setup(agnt5, tmp_path) -> dict[str, str]:
    agents = tmp_path / "answers"
    agents.mkdir()
    (agents / "echo_answer.py").write_text(ECHO)
    (agents / "half_answer.py").write_text(HALF)
    ds = out(agnt5("datasets", "create", "--name", "numbers"))
    agnt5("datasets", "upload", ds, input="\n".join(json.dumps({"input": {"n": n}, "expected_output": {"n": n}})
                                                    for n in range(20)))  # fmt: skip
    ids = {"dataset": ds, "version": out(agnt5("datasets", "publish", ds))}
    for name in ("echo", "half"):
        ids[name] = out(agnt5("deployments", "create", "--name", name, "--module", f"{name}_answer", "--path",
                              str(agents)))  # fmt: skip
    return ids


def create(agnt5, ids: dict[str, str], config: dict, code: int = 0):
    return agnt5("experiments", "create", "--name", "gated", "--dataset-id", ids["dataset"], "--dataset-version-id",
                 ids["version"], "--deployment-id", ids["echo"], "--component-name", "answer", "--component-type",
                 "function", "--builtin-scorer", "exact_match", "--config", json.dumps(config), code=code)  # fmt: skip


def test_unknown_config_keys_are_refused_with_the_closest_key_suggested(agnt5, tmp_path):
    ids = setup(agnt5, tmp_path)
    typo = create(agnt5, ids, {"passed_treshold": 1}, code=1)
    assert typo.stderr == "error: --config: unknown config key 'passed_treshold': did you mean passed_threshold?\n"
    rule = create(agnt5, ids, {"gate_config": {"scorers": {"exact_match": {"min_mean_scor": 1}}}}, code=1)
    assert "unknown scorer rule 'min_mean_scor': did you mean min_mean_score?" in rule.stderr
    scorer = create(agnt5, ids, {"gate_config": {"scorers": {"exact_match#2": {"min_pass_rate": 1}}}}, code=1)
    assert "no scorer 'exact_match#2' in this experiment: did you mean exact_match?" in scorer.stderr
    eid = out(create(agnt5, ids, {}))
    update = agnt5("experiments", "update", eid, "--config", '{"gate": {"baselin": "last_passed"}}', code=1)
    assert "unknown gate rule 'baselin': did you mean baseline?" in update.stderr


def test_reports_ci_explains_each_rule_and_exits_with_the_gate_code(agnt5, tmp_path):
    ids = setup(agnt5, tmp_path)
    eid = out(create(agnt5, ids, {"passed_threshold": 0, "gate_config": {"scorers": {"exact_match": {
        "min_pass_rate": 0.75}}}}))  # fmt: skip
    failed = agnt5("experiments", "run", eid, "--deployment-id", ids["half"], "--wait", code=2)
    assert "  pass     pass rate 50.0% >= passed_threshold 0\n" in failed.stdout
    assert "  FAIL     exact_match pass rate 50.0% < min_pass_rate 75.0%\n" in failed.stdout
    assert "gate failed: exact_match pass rate 50.0% < min_pass_rate 75.0%" in failed.stderr
    run_id = data(agnt5("experiments", "runs", "list", eid, "--format", "json"))[0]["id"]
    ci = agnt5("reports", "ci", run_id, code=2)
    assert "  FAIL     exact_match pass rate 50.0% < min_pass_rate 75.0%\n" in ci.stdout
    assert ci.stderr == "gate failed: exact_match pass rate 50.0% < min_pass_rate 75.0%\n"
    gate = data(agnt5("reports", "ci", run_id, "--format", "json", code=2))["gate"]
    assert [(r["rule"], r["scorer"], r["observed"], r["threshold"], r["passed"]) for r in gate["rules"]] == [
        ("min_pass_rate", None, 0.5, 0.0, True),
        ("scorer_min_pass_rate", "exact_match", 0.5, 0.75, False),
    ]
    passed = agnt5("experiments", "run", eid, "--wait")
    assert "  pass     exact_match pass rate 100.0% >= min_pass_rate 75.0%\n" in passed.stdout


def test_the_baseline_rule_from_the_cli(agnt5, tmp_path):
    ids = setup(agnt5, tmp_path)
    eid = out(create(agnt5, ids, {"passed_threshold": 0, "gate_config": {"baseline": "last_passed"}}))
    first = data(agnt5("experiments", "run", eid, "--wait", "--format", "json"))
    skipped = agnt5("reports", "ci", first["id"])
    assert "  skipped  no earlier completed run of this experiment passed its gate: the baseline rule is skipped\n" in (
        skipped.stdout)  # fmt: skip
    same = agnt5("experiments", "run", eid, "--wait")
    assert (f"  pass     pass-rate delta vs baseline {first['id']}: +0.0 pts (95% upper bound +0.0 pts) >= 0.0 pts "
            "allowed\n") in same.stdout  # fmt: skip
    override = json.dumps({"gate": {"baseline": first["id"], "max_regression": 0.02}})
    worse = agnt5("experiments", "run", eid, "--deployment-id", ids["half"], "--config", override, "--wait", code=2)
    explained = re.escape(f"pass-rate delta vs baseline {first['id']}: -50.0 pts (95% upper bound ") + (
        r"-\d+\.\d pts\) < -2\.0 pts allowed")  # fmt: skip
    assert re.search(r"  FAIL     " + explained + "\n", worse.stdout)
    assert re.search("gate failed: " + explained, worse.stderr)
    missing = json.dumps({"gate": {"baseline": "00000000-0000-4000-8000-000000000000"}})
    refused = agnt5("experiments", "run", eid, "--config", missing, code=1)
    assert "baseline run 00000000-0000-4000-8000-000000000000 not found" in refused.stderr
