"""Item pass and the run gate: pure functions over rows the read models return.

A finished run's gate is a list of rules, each with the value it observed, its threshold and whether it passed:
the minimum pass rate, the most items not passed, per-scorer minimums (``gate_config.scorers``) and, computed by
``services.gates`` because it reads another run, the noise-aware comparison with a baseline run
(:func:`baseline_rule`). The run passes its gate when it completed, has items, and no rule failed (a rule that
could not be decided, ``passed`` None, is skipped and says why).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agnt5_evals.domain import stats
from agnt5_evals.domain.errors import EXIT_GATE_FAILED, EXIT_OK, EXIT_RUN_FAILED
from agnt5_evals.domain.gate_config import (
    MAX_FAILED_ITEMS,
    check_config,
    check_gate_config,
    gate_of,
)

__all__ = ["MAX_FAILED_ITEMS", "Rule", "Verdict", "check_config", "check_gate_config", "gate_rules", "verdict"]


def item_status(target_error: str | None, scores: Iterable[Mapping[str, Any]]) -> str:
    """``errored`` if the target failed, else ``passed`` only when every scorer passed."""
    if target_error is not None:
        return "errored"
    return "passed" if all(bool(s["passed"]) for s in scores) else "failed"


def gate_rules(config: Mapping[str, Any]) -> tuple[float, int | None]:
    """The minimum pass rate and the most items allowed not to pass (None: no limit) of a run's config.

    ``config.passed_threshold`` and ``config.gate_config.min_pass_rate`` are both honoured: the stricter (higher)
    one applies; with neither, every item must pass (1). ``gate_config.max_failed_items`` adds a limit on the
    items that did not pass (failed or errored).
    """
    gate = gate_of(config)
    given = [float(v) for v in (config.get("passed_threshold"), gate.get("min_pass_rate")) if v is not None]
    most = gate.get("max_failed_items")
    return (max(given) if given else 1.0), (int(most) if most is not None else None)


@dataclass(frozen=True)
class Rule:
    """One gate rule's outcome: what it observed, its threshold, whether it passed (None: skipped) and why."""

    rule: str
    observed: float | None
    threshold: float | None
    passed: bool | None
    message: str
    scorer: str | None = None
    baseline_run_id: str | None = None
    upper_bound: float | None = None
    alpha: float | None = None
    paired_items: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    rules: tuple[Rule, ...] = ()

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


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def verdict(
    status: str,
    total: int,
    passed_items: int,
    config: Mapping[str, Any],
    scorers: Iterable[Mapping[str, Any]] = (),
    extra: Sequence[Rule] = (),
) -> Verdict:
    """Gate: pass rate (passed / total, errored items count as not passed) >= the minimum pass rate, at most
    ``max_failed_items`` items not passed when the config limits them (see :func:`gate_rules`), each per-scorer
    rule met by that scorer's aggregate (``scorers``: the summary's rows, ``scorer``, ``pass_rate``,
    ``mean_score``), and every ``extra`` rule (the baseline's) passed or skipped."""
    threshold, most = gate_rules(config)
    rate = pass_rate(passed_items, total)
    met = total > 0 and rate >= threshold
    text = f"pass rate {_pct(rate)} {'>=' if met else '<'} passed_threshold {threshold:g}"
    rules = [Rule("min_pass_rate", rate, threshold, met, text if total else "the run has no items")]
    if most is not None:
        within = total - passed_items <= most
        rules.append(Rule("max_failed_items", total - passed_items, most, within,
                          f"{total - passed_items} item(s) failed or errored {'<=' if within else '>'} "
                          f"max_failed_items {most}"))  # fmt: skip
    rules += scorer_rules(gate_of(config).get("scorers") or {}, scorers)
    rules += extra
    gate = status == "completed" and total > 0 and all(r.passed is not False for r in rules)
    return Verdict(status, total, passed_items, rate, threshold, gate, most, tuple(rules))


def scorer_rules(wanted: Mapping[str, Mapping[str, Any]], scorers: Iterable[Mapping[str, Any]]) -> list[Rule]:
    """Each per-scorer minimum (``{key: {min_pass_rate, min_mean_score}}``) against that scorer's aggregates; a
    scorer the run has no scores of fails its rules."""
    seen = {row["scorer"]: row for row in scorers}
    rules = []
    for key in sorted(wanted):
        row = seen.get(key)
        for name, field, label in (("min_pass_rate", "pass_rate", "pass rate"),
                                   ("min_mean_score", "mean_score", "mean score")):  # fmt: skip
            if name not in wanted[key]:
                continue
            threshold = float(wanted[key][name])
            value = None if row is None or (name == "min_mean_score" and row["mean_score"] is None) else row[field]
            if value is None:
                rules.append(Rule(f"scorer_{name}", None, threshold, False, f"{key} has no scores in this run", key))
                continue
            met = float(value) >= threshold
            shown = (_pct(value), _pct(threshold)) if name == "min_pass_rate" else (f"{value:.3f}", f"{threshold:g}")
            rules.append(Rule(f"scorer_{name}", float(value), threshold, met,
                              f"{key} {label} {shown[0]} {'>=' if met else '<'} {name} {shown[1]}", key))  # fmt: skip
    return rules


def paired_pass_diffs(baseline: Iterable[Mapping[str, Any]], candidate: Iterable[Mapping[str, Any]]) -> list[float]:
    """Candidate minus baseline per item paired by (dataset item, repetition): 1 (newly passing), 0, -1."""
    base = {(i["dataset_item_id"], i["repetition"]): i["status"] == "passed" for i in baseline}
    pairs = sorted((key, item["status"] == "passed") for item in candidate
                   if (key := (item["dataset_item_id"], item["repetition"])) in base)  # fmt: skip
    return [float(now) - float(base[key]) for key, now in pairs]


def baseline_rule(baseline_id: str, diffs: Sequence[float], seed: int, max_regression: float, alpha: float) -> Rule:
    """The noise-aware regression rule: fails only when the candidate is worse than the baseline by more than
    ``max_regression`` at significance ``alpha``, i.e. when the one-sided ``1 - alpha`` bootstrap upper bound of
    the mean paired pass difference is below ``-max_regression``. No paired items: fails (nothing shows no
    regression)."""
    limit = -max_regression + 0.0  # no -0.0
    bound = stats.upper_bound(diffs, seed, alpha)
    if bound is None:
        text = f"no item of this run pairs with one of baseline {baseline_id} (by dataset item and repetition)"
        return Rule("max_regression", None, limit, False, text, None, baseline_id, None, alpha, 0)
    delta = _clean(sum(diffs) / len(diffs))
    met = bound >= limit
    text = (
        f"pass-rate delta vs baseline {baseline_id}: {delta * 100:+.1f} pts ({(1 - alpha) * 100:g}% upper "
        f"bound {bound * 100:+.1f} pts) {'>=' if met else '<'} {limit * 100:.1f} pts allowed"
    )
    return Rule("max_regression", delta, limit, met, text, None, baseline_id, bound, alpha, len(diffs))


def _clean(value: float) -> float:
    return round(value, 12) + 0.0


def baseline_unusable(baseline_id: str | None, message: str, passed: bool | None) -> Rule:
    """The baseline rule when it cannot be computed: failed (an explicit baseline that is not usable) or skipped
    (``passed`` None: ``last_passed`` found no run)."""
    return Rule("max_regression", None, None, passed, message, baseline_run_id=baseline_id)
