"""The gate rules that read another run: the noise-aware comparison with a baseline (``gate_config.baseline``).

- An explicit baseline (a run id) must be a completed run the caller can see (this project's); otherwise the rule
  fails and says why (``reports ci`` exits 2). It may be a run of another experiment of the project: items pair by
  dataset item and repetition, as ``runs compare`` pairs them.
- ``last_passed`` is the most recent run of the same experiment created before this one that completed and passed
  its own gate's absolute rules (pass rate, failed items, per-scorer rules: never its own baseline rule, so finding
  it never recurses). None found: the rule is skipped (``passed`` null) and says so; the other rules decide.
- Only a completed run gets the rule: a running, failed or cancelled run has no gate to pass.
"""

from __future__ import annotations

from typing import Any

from agnt5_evals.adapters.reads import Reader
from agnt5_evals.domain import stats
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.domain.gate_config import LAST_PASSED, gate_of
from agnt5_evals.domain.gates import Rule, baseline_rule, baseline_unusable, verdict
from agnt5_evals.domain.reports import scorer_aggregate
from agnt5_evals.projections import pairing, queries

NO_LAST_PASSED = "no earlier completed run of this experiment passed its gate: the baseline rule is skipped"


def extra_rules(svc: Reader, run: dict[str, Any]) -> list[Rule]:
    """The baseline rule of a completed run whose config names a baseline; none otherwise."""
    gate = gate_of(run["spec"].get("config", {}))
    if run["status"] != "completed" or "baseline" not in gate:
        return []
    wanted = str(gate["baseline"])
    if wanted == LAST_PASSED:
        base = last_passed(svc, run)
        if base is None:
            return [baseline_unusable(None, NO_LAST_PASSED, None)]
    else:
        problem, base = _explicit(svc, run, wanted)
        if base is None:
            return [baseline_unusable(wanted, problem, False)]
    diffs = pass_diffs(svc, base["id"], run["id"])
    seed = stats.seed_of(base["id"], run["id"])
    limit, alpha = float(gate.get("max_regression", 0)), float(gate.get("alpha", 0.05))
    return [baseline_rule(base["id"], diffs, seed, limit, alpha)]


def pass_diffs(svc: Reader, base_id: str, run_id: str) -> list[float]:
    """``domain.gates.paired_pass_diffs`` of the two runs, counted in SQL: the differences (1, 0, -1) in value
    order, which changes neither their sum nor the bootstrap (it resamples their counts)."""
    verdicts = pairing.statuses(svc.view, base_id, run_id)
    same = verdicts.get((True, True), 0) + verdicts.get((False, False), 0)
    return [-1.0] * verdicts.get((True, False), 0) + [0.0] * same + [1.0] * verdicts.get((False, True), 0)


def _explicit(svc: Reader, run: dict[str, Any], wanted: str) -> tuple[str, dict[str, Any] | None]:
    """The baseline run a config names, or why it cannot be one."""
    if wanted == run["id"]:
        return "a run cannot be its own baseline", None
    try:
        base = queries.run(svc.view, wanted)
    except NotFound:
        return f"baseline run {wanted} not found", None
    if base["status"] != "completed":
        return f"baseline run {wanted} is {base['status']}, not completed: nothing to compare with", None
    return "", base


def last_passed(svc: Reader, run: dict[str, Any]) -> dict[str, Any] | None:
    """The most recent completed run of ``run``'s experiment, created before it, that passed its gate's absolute
    rules; None when there is none."""
    earlier = [
        r
        for r in queries.runs(svc.view, run["experiment_id"])
        if r["created_at"] < run["created_at"] and r["id"] != run["id"] and r["status"] == "completed"
    ]
    for candidate in reversed(earlier):
        scorers = [scorer_aggregate(row) for row in queries.run_scorers(svc.view, candidate["id"])]
        config = candidate["spec"].get("config", {})
        if verdict(candidate["status"], candidate["total"], candidate["passed"], config, scorers).gate_passed:
            return candidate
    return None


def gate_verdict(svc: Reader, run_id: str) -> dict[str, Any]:
    """The CI verdict of a run (``GET /runs/{id}/gate``): every rule with its numbers, and the CLI's exit code
    (its queries in one read transaction)."""
    return svc.view.reading(lambda: _gate_verdict(svc, run_id))


def _gate_verdict(svc: Reader, run_id: str) -> dict[str, Any]:
    run = queries.run(svc.view, run_id)
    scorers = [scorer_aggregate(row) for row in queries.run_scorers(svc.view, run_id)]
    result = verdict(run["status"], run["total"], run["passed"], run["spec"].get("config", {}), scorers,
                     extra_rules(svc, run))  # fmt: skip
    code = 4 if run["status"] == "running" else result.exit_code
    return {"status": run["status"], "pass_rate": result.pass_rate, "passed_threshold": result.threshold,
            "max_failed_items": result.max_failed_items, "not_passed_items": result.not_passed_items,
            "passed": result.gate_passed, "exit_code": code,
            "rules": [rule.as_dict() for rule in result.rules]}  # fmt: skip
