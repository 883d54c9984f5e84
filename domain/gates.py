"""Item pass, run gate and run comparison: pure functions over rows the read models return."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agnt5_evals.domain.errors import EXIT_GATE_FAILED, EXIT_OK, EXIT_RUN_FAILED, Invalid


def item_status(target_error: str | None, scores: Iterable[Mapping[str, Any]]) -> str:
    """``errored`` if the target failed, else ``passed`` only when every scorer passed."""
    if target_error is not None:
        return "errored"
    return "passed" if all(bool(s["passed"]) for s in scores) else "failed"


def check_config(config: Any) -> dict[str, Any]:
    """Validate an experiment config object (``--config``), naming the bad field."""
    if not isinstance(config, dict):
        raise Invalid("must be a JSON object, for example '{\"passed_threshold\": 1}'", field="config")
    threshold = config.get("passed_threshold", 1)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise Invalid(
            f"passed_threshold must be a number between 0 and 1, got {threshold!r}", field="config.passed_threshold"
        )
    for key, low, high in (("repetitions", 1, 100), ("concurrency", 1, 256), ("retries", 0, 10)):
        value = config.get(key, low)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Invalid(f"{key} must be an integer from {low} to {high}, got {value!r}", field=f"config.{key}")
    for key in ("timeout_s", "retry_backoff_s"):
        value = config.get(key, 1)
        if value is None and key == "timeout_s":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value > 86400:
            raise Invalid(f"{key} must be a number of seconds from 0 to 86400, got {value!r}", field=f"config.{key}")
    if "gate_config" in config:
        check_gate_config(config["gate_config"], "config.gate_config")
    return config


MAX_FAILED_ITEMS = 10**9


def check_gate_config(gate: Any, field: str = "gate_config") -> dict[str, Any]:
    """Validate the control plane's ``gate_config {min_pass_rate, max_failed_items}`` (both optional), naming
    the bad field (``gate_config.min_pass_rate``); other keys are refused, so a misspelt rule is never ignored."""
    if not isinstance(gate, dict):
        raise Invalid('must be a JSON object, for example {"min_pass_rate": 1, "max_failed_items": 0}', field=field)
    unknown = sorted(set(gate) - {"min_pass_rate", "max_failed_items"})
    if unknown:
        raise Invalid(f"unknown gate rule {unknown[0]!r}: the rules are min_pass_rate and max_failed_items",
                      field=f"{field}.{unknown[0]}")  # fmt: skip
    rate = gate.get("min_pass_rate", 1)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise Invalid(f"min_pass_rate must be a number between 0 and 1, got {rate!r}", field=f"{field}.min_pass_rate")
    most = gate.get("max_failed_items", 0)
    if isinstance(most, bool) or not isinstance(most, int) or not 0 <= most <= MAX_FAILED_ITEMS:
        raise Invalid(f"max_failed_items must be an integer from 0 to {MAX_FAILED_ITEMS}, got {most!r}",
                      field=f"{field}.max_failed_items")  # fmt: skip
    return gate


def gate_rules(config: Mapping[str, Any]) -> tuple[float, int | None]:
    """The minimum pass rate and the most items allowed not to pass (None: no limit) of a run's config.

    ``config.passed_threshold`` and ``config.gate_config.min_pass_rate`` are both honoured: the stricter (higher)
    one applies; with neither, every item must pass (1). ``gate_config.max_failed_items`` adds a limit on the
    items that did not pass (failed or errored).
    """
    gate = config.get("gate_config") or {}
    given = [float(v) for v in (config.get("passed_threshold"), gate.get("min_pass_rate")) if v is not None]
    most = gate.get("max_failed_items")
    return (max(given) if given else 1.0), (int(most) if most is not None else None)


@dataclass(frozen=True)
class Verdict:
    """The CI gate verdict of a finished run."""

    status: str
    total: int
    passed_items: int
    pass_rate: float
    threshold: float
    gate_passed: bool
    max_failed_items: int | None = None

    @property
    def not_passed_items(self) -> int:
        """Items that failed or errored (what ``max_failed_items`` limits)."""
        return self.total - self.passed_items

    @property
    def exit_code(self) -> int:
        if self.status != "completed":
            return EXIT_RUN_FAILED
        return EXIT_OK if self.gate_passed else EXIT_GATE_FAILED


def pass_rate(passed: int, total: int) -> float:
    return passed / total if total else 0.0


def verdict(status: str, total: int, passed_items: int, config: Mapping[str, Any]) -> Verdict:
    """Gate: pass rate (passed / total, errored items count as not passed) >= the minimum pass rate, and at most
    ``max_failed_items`` items not passed when the config limits them (see :func:`gate_rules`)."""
    threshold, most = gate_rules(config)
    rate = pass_rate(passed_items, total)
    within = most is None or total - passed_items <= most
    gate = status == "completed" and total > 0 and rate >= threshold and within
    return Verdict(status, total, passed_items, rate, threshold, gate, most)
