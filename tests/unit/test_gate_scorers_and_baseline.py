"""Issue 13's gate rules, pure: per-scorer minimums, the noise-aware baseline rule, the ``gate`` alias, and unknown
config keys refused naming the key with the closest known one suggested."""

from __future__ import annotations

import pytest

from agnt5_evals.domain import stats
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.gate_config import SDK_KEYS, check_config, check_gate_config, check_gate_scorers, gate_of
from agnt5_evals.domain.gates import baseline_rule, paired_pass_diffs, verdict

BASE = "0d6f6c4e-5f8e-4a57-a8b4-3f1f2b8a9c11"
SCORERS = [{"scorer": "json_valid", "pass_rate": 0.9, "mean_score": 0.9},
           {"scorer": "similarity", "pass_rate": 1.0, "mean_score": 0.72}]  # fmt: skip


def rules_of(config: dict) -> list[tuple]:
    result = verdict("completed", 10, 10, config, SCORERS)
    return [(r.rule, r.scorer, r.observed, r.threshold, r.passed, r.message) for r in result.rules]


def test_a_scorer_rule_fails_the_gate_below_its_minimum_and_says_so():
    config = {"gate_config": {"scorers": {"json_valid": {"min_pass_rate": 1}, "similarity": {"min_mean_score": 0.7}}}}
    assert rules_of(config)[1:] == [
        ("scorer_min_pass_rate", "json_valid", 0.9, 1.0, False, "json_valid pass rate 90.0% < min_pass_rate 100.0%"),
        ("scorer_min_mean_score", "similarity", 0.72, 0.7, True, "similarity mean score 0.720 >= min_mean_score 0.7"),
    ]
    assert not verdict("completed", 10, 10, config, SCORERS).gate_passed


def test_the_gate_passes_when_every_scorer_rule_is_met():
    config = {"gate_config": {"scorers": {"json_valid": {"min_pass_rate": 0.9, "min_mean_score": 0.5}}}}
    assert verdict("completed", 10, 10, config, SCORERS).gate_passed


def test_a_scorer_without_scores_fails_its_rule():
    config = {"gate_config": {"scorers": {"json_valid": {"min_mean_score": 0.1}}}}
    result = verdict("completed", 10, 10, config, [{"scorer": "json_valid", "pass_rate": 0.0, "mean_score": None}])
    assert [(r.passed, r.message) for r in result.rules[1:]] == [(False, "json_valid has no scores in this run")]


def test_the_gate_alias_adds_rules_and_wins_for_a_rule_both_name():
    config = {"gate_config": {"min_pass_rate": 0.5, "max_failed_items": 3}, "gate": {"min_pass_rate": 0.8,
                                                                                     "baseline": BASE}}  # fmt: skip
    assert gate_of(check_config(config)) == {"min_pass_rate": 0.8, "max_failed_items": 3, "baseline": BASE}
    assert verdict("completed", 10, 7, config).threshold == 0.8


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"passed_treshold": 1}, "config.passed_treshold", "unknown config key 'passed_treshold': did you mean "
                                                           "passed_threshold?"),
        ({"concurency": 2}, "config.concurency", "did you mean concurrency?"),
        ({"owner": "me"}, "config.owner", "not a setting of this service (put your own keys under config.metadata)"),
        ({"metadata": "x"}, "config.metadata", "must be a JSON object"),
        ({"gate_config": {"min_passrate": 1}}, "config.gate_config.min_passrate", "unknown gate rule 'min_passrate': "
                                                                                  "did you mean min_pass_rate?"),
        ({"gate": {"max_regresion": 0.1}}, "config.gate.max_regresion", "did you mean max_regression?"),
        ({"gate_config": {"scorers": {"json_valid": {"min_pass_rat": 1}}}},
         "config.gate_config.scorers.json_valid.min_pass_rat", "unknown scorer rule 'min_pass_rat': did you mean "
                                                               "min_pass_rate?"),
        ({"gate_config": {"scorers": {"json_valid": {"min_mean_score": "high"}}}},
         "config.gate_config.scorers.json_valid.min_mean_score", "min_mean_score must be a number, got 'high'"),
        ({"gate_config": {"scorers": {"json_valid": {"min_pass_rate": 1.5}}}},
         "config.gate_config.scorers.json_valid.min_pass_rate", "between 0 and 1, got 1.5"),
        ({"gate_config": {"scorers": {"json_valid": {}}}}, "config.gate_config.scorers.json_valid", "min_pass_rate"),
        ({"gate_config": {"scorers": ["json_valid"]}}, "config.gate_config.scorers", "a JSON object of scorer keys"),
        ({"gate": {"baseline": "yesterday"}}, "config.gate.baseline", "a run id or \"last_passed\""),
        ({"gate": {"baseline": 3}}, "config.gate.baseline", "a run id or \"last_passed\""),
        ({"gate": {"max_regression": 2}}, "config.gate.max_regression", "between 0 and 1"),
        ({"gate": {"alpha": 0}}, "config.gate.alpha", "above 0 and at most 0.5"),
        ({"gate": {"alpha": 0.6}}, "config.gate.alpha", "above 0 and at most 0.5"),
    ],
)  # fmt: skip
def test_a_bad_or_unknown_key_is_refused_naming_it(config, field, message):
    with pytest.raises(Invalid) as caught:
        check_config(config)
    assert caught.value.field == field and message in caught.value.message


def test_the_sdk_keys_and_the_new_rules_are_accepted_as_given():
    config = {key: "x" for key in SDK_KEYS} | {
        "metadata": {"team": "search"}, "execution_mode": "dev_worker",
        "gate_config": {"scorers": {"json_valid": {"min_pass_rate": 1}}, "baseline": "last_passed",
                        "max_regression": 0.02, "alpha": 0.05},
        "gate": {"baseline": BASE},
    }  # fmt: skip
    assert check_config(config) is config


def test_a_stored_config_with_an_old_unknown_key_can_be_rechecked_leniently():
    assert check_config({"anything_else": 1}, known_keys=False) == {"anything_else": 1}


def test_check_gate_config_names_the_rest_field():
    with pytest.raises(Invalid) as caught:
        check_gate_config({"scorer": {}})
    assert (caught.value.field, caught.value.message) == ("gate_config.scorer", "unknown gate rule 'scorer': did you "
                                                                                "mean scorers?")  # fmt: skip


def test_a_scorer_rule_must_name_a_scorer_of_the_experiment():
    config = {"gate": {"scorers": {"json_vaild": {"min_pass_rate": 1}}}}
    with pytest.raises(Invalid) as caught:
        check_gate_scorers(config, ["json_valid", "contains#2"])
    assert caught.value.field == "config.gate.scorers.json_vaild"
    assert caught.value.message == "no scorer 'json_vaild' in this experiment: did you mean json_valid?"
    check_gate_scorers({"gate_config": {"scorers": {"contains#2": {"min_pass_rate": 1}}}}, ["contains#2"])


# the baseline rule -----------------------------------------------------------------------------------------------


def items(statuses: str, repetition: int = 0) -> list[dict]:
    return [{"dataset_item_id": f"item-{n:03}", "repetition": repetition, "status": "passed" if s == "p" else "failed"}
            for n, s in enumerate(statuses)]  # fmt: skip


def test_items_pair_by_dataset_item_and_repetition():
    base = items("ppf") + items("f", repetition=1)
    candidate = items("pfp") + items("p", repetition=1) + [{"dataset_item_id": "new", "repetition": 0,
                                                             "status": "failed"}]  # fmt: skip
    assert paired_pass_diffs(base, candidate) == [0.0, 1.0, -1.0, 1.0]


def test_the_same_results_twice_pass():
    diffs = paired_pass_diffs(items("pf" * 20), items("pf" * 20))
    rule = baseline_rule(BASE, diffs, stats.seed_of(BASE, "r"), 0.0, 0.05)
    assert (rule.passed, rule.observed, rule.upper_bound, rule.threshold, rule.paired_items) == (True, 0.0, 0.0, 0.0,
                                                                                                  40)  # fmt: skip
    assert rule.message == (f"pass-rate delta vs baseline {BASE}: +0.0 pts (95% upper bound +0.0 pts) >= 0.0 pts "
                            "allowed")  # fmt: skip


def test_a_real_regression_fails():
    diffs = paired_pass_diffs(items("p" * 40), items("pf" * 20))
    rule = baseline_rule(BASE, diffs, stats.seed_of(BASE, "r"), 0.02, 0.05)
    assert rule.passed is False and rule.observed == -0.5 and rule.upper_bound is not None
    assert rule.upper_bound < -0.3
    assert rule.message.startswith(f"pass-rate delta vs baseline {BASE}: -50.0 pts (95% upper bound -")
    assert rule.message.endswith(" pts) < -2.0 pts allowed")


def test_a_small_noisy_drop_passes_within_max_regression():
    diffs = paired_pass_diffs(items("p" * 100), items("f" + "p" * 99))  # one item flipped in 100
    rule = baseline_rule(BASE, diffs, stats.seed_of(BASE, "r"), 0.02, 0.05)
    assert rule.passed is True and rule.observed == -0.01
    assert rule.upper_bound is not None and rule.upper_bound >= -0.02


def test_the_rule_fails_exactly_when_the_upper_bound_is_below_minus_max_regression():
    diffs = paired_pass_diffs(items("p" * 50), items("f" * 5 + "p" * 45))
    bound = stats.upper_bound(diffs, 7, 0.05)
    assert bound is not None and bound < 0
    assert baseline_rule(BASE, diffs, 7, -bound, 0.05).passed is True
    assert baseline_rule(BASE, diffs, 7, -bound - 0.01, 0.05).passed is False


def test_no_paired_items_fails_the_rule():
    rule = baseline_rule(BASE, [], 1, 0.02, 0.05)
    assert (rule.passed, rule.observed, rule.paired_items) == (False, None, 0)
    assert rule.message == f"no item of this run pairs with one of baseline {BASE} (by dataset item and repetition)"


def test_a_skipped_extra_rule_does_not_fail_the_gate_and_a_failed_one_does():
    from agnt5_evals.domain.gates import baseline_unusable

    skipped = baseline_unusable(None, "no earlier run", None)
    assert verdict("completed", 4, 4, {}, (), [skipped]).gate_passed
    assert not verdict("completed", 4, 4, {}, (), [baseline_unusable(BASE, "not found", False)]).gate_passed
