"""The control plane's ``gate_config {min_pass_rate, max_failed_items}`` next to ``config.passed_threshold``: both
honoured, the stricter pass rate wins, bad rules refused naming the field."""

from __future__ import annotations

import pytest

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.gates import check_config, check_gate_config, gate_rules, verdict


@pytest.mark.parametrize(
    ("config", "rules"),
    [
        ({}, (1.0, None)),
        ({"passed_threshold": 0.5}, (0.5, None)),
        ({"gate_config": {"min_pass_rate": 0.6}}, (0.6, None)),
        ({"passed_threshold": 0.5, "gate_config": {"min_pass_rate": 0.8}}, (0.8, None)),
        ({"passed_threshold": 0.9, "gate_config": {"min_pass_rate": 0.2}}, (0.9, None)),
        ({"gate_config": {"max_failed_items": 0}}, (1.0, 0)),
        ({"passed_threshold": 0, "gate_config": {"max_failed_items": 3}}, (0.0, 3)),
    ],
)
def test_the_stricter_pass_rate_applies_and_max_failed_items_is_kept(config, rules):
    assert gate_rules(check_config(config)) == rules


def test_max_failed_items_fails_a_gate_the_pass_rate_would_pass():
    config = {"passed_threshold": 0.5, "gate_config": {"max_failed_items": 1}}
    assert verdict("completed", 10, 9, config).gate_passed
    failing = verdict("completed", 10, 8, config)
    assert not failing.gate_passed and failing.not_passed_items == 2 and failing.exit_code == 2
    assert failing.max_failed_items == 1 and failing.threshold == 0.5


def test_min_pass_rate_fails_a_gate_passed_threshold_would_pass():
    config = {"passed_threshold": 0.5, "gate_config": {"min_pass_rate": 0.9}}
    assert not verdict("completed", 10, 8, config).gate_passed
    assert verdict("completed", 10, 9, config).gate_passed
    assert not verdict("failed", 10, 10, config).gate_passed


@pytest.mark.parametrize(
    ("gate", "field", "message"),
    [
        ([], "gate_config", "must be a JSON object"),
        ({"min_pass_rate": 1.5}, "gate_config.min_pass_rate", "between 0 and 1, got 1.5"),
        ({"min_pass_rate": "1"}, "gate_config.min_pass_rate", "between 0 and 1, got '1'"),
        ({"min_pass_rate": True}, "gate_config.min_pass_rate", "between 0 and 1, got True"),
        ({"max_failed_items": -1}, "gate_config.max_failed_items", "an integer from 0"),
        ({"max_failed_items": 1.5}, "gate_config.max_failed_items", "an integer from 0"),
        ({"max_failed": 1}, "gate_config.max_failed", "unknown gate rule 'max_failed'"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(gate, field, message):
    with pytest.raises(Invalid) as caught:
        check_gate_config(gate)
    assert caught.value.field == field and message in caught.value.message
    with pytest.raises(Invalid) as nested:
        check_config({"gate_config": gate})
    assert nested.value.field == f"config.{field}"
