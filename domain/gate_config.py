"""The experiment config as users write it (``--config``, REST ``config`` and ``gate_config``): every key checked,
a bad value or an unknown key refused naming its field, with the closest known key suggested for a misspelling
(``passed_treshold``: "did you mean passed_threshold?").

The gate's rules live in ``config.gate_config``; ``config.gate`` is an alias holding the same rules (the spelling
of issue 13: ``{"gate": {"baseline": ..., "max_regression": 0.02, "alpha": 0.05}}``). When both are given, their
rules are merged and ``gate`` wins for a rule both name, so a run's ``--config '{"gate": {"baseline": ID}}'``
adds a baseline to the experiment's ``gate_config`` (:func:`gate_of`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from agnt5_evals.domain.errors import Invalid

RUN_KEYS = ("passed_threshold", "repetitions", "concurrency", "retries", "timeout_s", "retry_backoff_s",
            "execution_mode", "gate_config", "gate", "metadata", "shard_size", "priority")  # fmt: skip
SDK_KEYS = ("source", "quality_case_id", "improvement_attempt_id", "source_run_id", "behavior_topic_id",
            "baseline_deployment_id", "candidate_deployment_id", "eval_lane")  # fmt: skip
"""What the public AGNT5 SDK's improvement loop writes into ``config`` (agnt5 0.14.5, control_plane.py): kept."""
CONFIG_KEYS = RUN_KEYS + SDK_KEYS
GATE_KEYS = ("min_pass_rate", "max_failed_items", "scorers", "baseline", "max_regression", "alpha")
SCORER_RULES = ("min_pass_rate", "min_mean_score")
GATE_ALIASES = ("gate_config", "gate")
LAST_PASSED = "last_passed"
MAX_FAILED_ITEMS = 10**9
MAX_SCORE = 1e9


def suggestion(key: str, known: Iterable[str], otherwise: str = "") -> str:
    """``did you mean X?`` for the known key closest to ``key``, else ``otherwise`` (default: the known keys)."""
    choices = list(known)
    match = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    if match:
        return f"did you mean {match[0]}?"
    return otherwise or f"the keys are {', '.join(choices)}"


OWN_KEYS = "not a setting of this service (put your own keys under config.metadata)"


def _unknown(what: str, mapping: Mapping[str, Any], known: Iterable[str], field: str, otherwise: str = "") -> None:
    known = tuple(known)
    for key in mapping:
        if key not in known:
            raise Invalid(f"unknown {what} {key!r}: {suggestion(key, known, otherwise)}", field=f"{field}.{key}")


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def check_config(config: Any, known_keys: bool = True) -> dict[str, Any]:
    """Validate an experiment config object (``--config``), naming the bad field. ``known_keys``: refuse a key
    this service does not know (off only to re-check a config stored before keys were checked)."""
    if not isinstance(config, dict):
        raise Invalid("must be a JSON object, for example '{\"passed_threshold\": 1}'", field="config")
    if known_keys:
        _unknown("config key", config, CONFIG_KEYS, "config", OWN_KEYS)
    threshold = config.get("passed_threshold", 1)
    if not _number(threshold) or not 0 <= threshold <= 1:
        raise Invalid(
            f"passed_threshold must be a number between 0 and 1, got {threshold!r}", field="config.passed_threshold"
        )
    for key, low, high in (("repetitions", 1, 100), ("concurrency", 1, 256), ("retries", 0, 10),
                           ("shard_size", 1, 10_000), ("priority", -100, 100)):  # fmt: skip
        value = config.get(key, low)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Invalid(f"{key} must be an integer from {low} to {high}, got {value!r}", field=f"config.{key}")
    for key in ("timeout_s", "retry_backoff_s"):
        value = config.get(key, 1)
        if value is None and key == "timeout_s":
            continue
        if not _number(value) or value < 0 or value > 86400:
            raise Invalid(f"{key} must be a number of seconds from 0 to 86400, got {value!r}", field=f"config.{key}")
    if known_keys and "metadata" in config and not isinstance(config["metadata"], dict):
        raise Invalid("must be a JSON object (your own keys, kept as given)", field="config.metadata")
    for key in GATE_ALIASES:
        if key in config:
            check_gate_config(config[key], f"config.{key}")
    return config


def check_gate_config(gate: Any, field: str = "gate_config") -> dict[str, Any]:
    """Validate the gate's rules (all optional), naming the bad field (``gate_config.min_pass_rate``): the pass
    rate and failed items of the run, per-scorer minimums, and the baseline comparison. An unknown rule is refused,
    so a misspelt rule is never ignored."""
    if not isinstance(gate, dict):
        raise Invalid('must be a JSON object, for example {"min_pass_rate": 1, "max_failed_items": 0}', field=field)
    _unknown("gate rule", gate, GATE_KEYS, field)
    rate = gate.get("min_pass_rate", 1)
    if not _number(rate) or not 0 <= rate <= 1:
        raise Invalid(f"min_pass_rate must be a number between 0 and 1, got {rate!r}", field=f"{field}.min_pass_rate")
    most = gate.get("max_failed_items", 0)
    if isinstance(most, bool) or not isinstance(most, int) or not 0 <= most <= MAX_FAILED_ITEMS:
        raise Invalid(f"max_failed_items must be an integer from 0 to {MAX_FAILED_ITEMS}, got {most!r}",
                      field=f"{field}.max_failed_items")  # fmt: skip
    if "scorers" in gate:
        _check_scorer_rules(gate["scorers"], f"{field}.scorers")
    _check_baseline(gate, field)
    return gate


def _check_scorer_rules(rules: Any, field: str) -> None:
    """``{scorer key: {min_pass_rate: 0..1, min_mean_score: number}}``."""
    if not isinstance(rules, dict):
        raise Invalid('must be a JSON object of scorer keys, for example {"json_valid": {"min_pass_rate": 1}}',
                      field=field)  # fmt: skip
    for key, rule in rules.items():
        at = f"{field}.{key}"
        if not isinstance(rule, dict) or not rule:
            raise Invalid('must be a JSON object of min_pass_rate and/or min_mean_score, for example '
                          '{"min_pass_rate": 1}', field=at)  # fmt: skip
        _unknown("scorer rule", rule, SCORER_RULES, at)
        rate = rule.get("min_pass_rate", 1)
        if not _number(rate) or not 0 <= rate <= 1:
            raise Invalid(f"min_pass_rate must be a number between 0 and 1, got {rate!r}", field=f"{at}.min_pass_rate")
        mean = rule.get("min_mean_score", 0)
        if not _number(mean) or abs(mean) > MAX_SCORE:
            raise Invalid(f"min_mean_score must be a number, got {mean!r}", field=f"{at}.min_mean_score")


def _check_baseline(gate: Mapping[str, Any], field: str) -> None:
    """``baseline``: a run id or ``last_passed``; ``max_regression``: 0..1 (pass-rate points as a fraction);
    ``alpha``: the one-sided significance level, above 0 and at most 0.5."""
    if "baseline" in gate:
        base = gate["baseline"]
        if not isinstance(base, str) or (base != LAST_PASSED and not _is_uuid(base)):
            raise Invalid(f'must be a run id or "{LAST_PASSED}", got {base!r}', field=f"{field}.baseline")
    regression = gate.get("max_regression", 0)
    if not _number(regression) or not 0 <= regression <= 1:
        raise Invalid(f"max_regression must be a number between 0 and 1 (0.02: 2 points of pass rate), got "
                      f"{regression!r}", field=f"{field}.max_regression")  # fmt: skip
    alpha = gate.get("alpha", 0.05)
    if not _number(alpha) or not 0 < alpha <= 0.5:
        raise Invalid(f"alpha must be a number above 0 and at most 0.5, got {alpha!r}", field=f"{field}.alpha")


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


def gate_of(config: Mapping[str, Any]) -> dict[str, Any]:
    """The gate rules in force: ``config.gate_config`` with ``config.gate``'s rules over them."""
    merged: dict[str, Any] = {}
    for key in GATE_ALIASES:
        if isinstance(config.get(key), dict):
            merged.update(config[key])
    return merged


def gate_field(config: Mapping[str, Any], rule: str) -> str:
    """Where a rule in force was written: ``config.gate.RULE`` when ``gate`` names it, else ``config.gate_config``."""
    given = config.get("gate")
    return f"config.gate.{rule}" if isinstance(given, dict) and rule in given else f"config.gate_config.{rule}"


def check_gate_scorers(config: Mapping[str, Any], scorer_keys: Iterable[str]) -> None:
    """A per-scorer rule must name one of the experiment's scorers (by key: ``json_valid``, ``contains#2``)."""
    keys = list(scorer_keys)
    field = gate_field(config, "scorers")
    for key in gate_of(config).get("scorers") or {}:
        if key not in keys:
            raise Invalid(f"no scorer {key!r} in this experiment: {suggestion(key, keys)}", field=f"{field}.{key}")


BASELINE_RULES = ("baseline", "max_regression", "alpha")


def without_baseline(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` without the baseline rule (for an experiment over other items, such as a regression dataset's,
    where no item would pair with the baseline's)."""
    out = dict(config)
    for key in GATE_ALIASES:
        if isinstance(out.get(key), dict):
            out[key] = {rule: value for rule, value in out[key].items() if rule not in BASELINE_RULES}
    return out
