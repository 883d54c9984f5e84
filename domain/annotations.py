"""Annotations: human labels on run items, kept apart from scores, and how well each scorer agrees with them.

An annotation (spec 1.6) is ``{name, label?, score?, explanation?, metadata}`` on one run item. For meta-evaluation
an annotation is read as a human verdict: its ``score`` passes at 0.5 or more; without a score, its ``label`` is
looked up in ``PASS_LABELS`` / ``FAIL_LABELS`` (case-insensitive); any other label gives no verdict. When an item
has several annotations of one name, the latest counts.

``agreement`` compares, for every scorer of the run (and for the item's overall status), the scorer's pass/fail
with the human verdict on the items that have both: the agreement rate with a 95% Wilson interval, Cohen's kappa
(agreement beyond chance; None when chance agreement is total) and the confusion counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.projects import owned_by_project
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT
from agnt5_evals.domain.text_rules import check_name

PASS_LABELS = frozenset({"pass", "passed", "good", "correct", "yes", "true", "1", "accept", "accepted"})
FAIL_LABELS = frozenset({"fail", "failed", "bad", "incorrect", "no", "false", "0", "reject", "rejected"})
ITEM = "(item status)"


class Annotation(Aggregate):
    """One human label on one run item; immutable (a correction is a newer annotation of the same name)."""

    project_id = DEFAULT_PROJECT

    @event("Created")
    def __init__(
        self,
        run_id: UUID,
        run_item_id: str,
        name: str,
        label: str | None,
        score: float | None,
        explanation: str | None,
        metadata: dict[str, Any],
        project_id: str = DEFAULT_PROJECT,
    ) -> None:
        self.project_id = project_id
        self.run_id = run_id
        self.run_item_id = run_item_id
        self.name = name
        self.label = label
        self.score = score
        self.explanation = explanation
        self.metadata = metadata


owned_by_project(Annotation.Created)


def check_annotation(name: Any, label: Any, score: Any, explanation: Any, metadata: Any) -> float | None:
    """Validate an annotation's fields, naming the bad one; returns the score as a float."""
    check_name(name)
    if label is not None and not isinstance(label, str):
        raise Invalid("must be a string", field="label")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1):
        raise Invalid(f"must be a number from 0 to 1, got {score!r}", field="score")
    if label is None and score is None:
        raise Invalid("give a label, a score or both", field="label, score")
    if explanation is not None and not isinstance(explanation, str):
        raise Invalid("must be a string", field="explanation")
    if not isinstance(metadata, dict):
        raise Invalid("must be a JSON object", field="metadata")
    return None if score is None else float(score)


def human_verdict(annotation: Mapping[str, Any]) -> bool | None:
    """Pass (True), fail (False) or no verdict (None) from an annotation's score, else its label."""
    if annotation.get("score") is not None:
        return float(annotation["score"]) >= 0.5
    label = str(annotation.get("label") or "").strip().lower()
    if label in PASS_LABELS:
        return True
    if label in FAIL_LABELS:
        return False
    return None


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (``(0, 1)`` with no observations)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def kappa(both_pass: int, scorer_only: int, human_only: int, both_fail: int) -> float | None:
    """Cohen's kappa of two pass/fail raters; None when chance agreement is 1 (one class only)."""
    n = both_pass + scorer_only + human_only + both_fail
    if n == 0:
        return None
    observed = (both_pass + both_fail) / n
    scorer_yes, human_yes = (both_pass + scorer_only) / n, (both_pass + human_only) / n
    chance = scorer_yes * human_yes + (1 - scorer_yes) * (1 - human_yes)
    return None if chance >= 1 else (observed - chance) / (1 - chance)


def agreement(
    items: Sequence[Mapping[str, Any]], annotations: Sequence[Mapping[str, Any]], name: str
) -> dict[str, Any]:
    """Scorer-vs-human agreement on a run's items (each with ``status`` and current ``scores``)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for annotation in annotations:  # oldest first: later ones win
        if annotation["name"] == name:
            latest[annotation["run_item_id"]] = annotation
    verdicts = {item_id: human_verdict(a) for item_id, a in latest.items()}
    judged = {item_id: v for item_id, v in verdicts.items() if v is not None}
    pairs: dict[str, list[tuple[bool, bool, float | None, float | None]]] = {}
    for item in items:
        human = judged.get(item["id"])
        if human is None:
            continue
        human_score = latest[item["id"]].get("score")
        for score in item["scores"]:
            if score.get("errored"):
                continue  # an errored scorer gave no verdict
            pairs.setdefault(score["scorer_key"], []).append(
                (bool(score["passed"]), human, float(score["score"]), human_score)
            )
        if item["status"] != "errored":
            pairs.setdefault(ITEM, []).append((item["status"] == "passed", human, None, None))
    return {
        "name": name,
        "annotated_items": len(latest),
        "without_verdict": len(verdicts) - len(judged),
        "scorers": [_agreement_of(key, rows) for key, rows in pairs.items()],
    }


def _agreement_of(key: str, rows: list[tuple[bool, bool, float | None, float | None]]) -> dict[str, Any]:
    both_pass = sum(s and h for s, h, _, _ in rows)
    both_fail = sum(not s and not h for s, h, _, _ in rows)
    scorer_only = sum(s and not h for s, h, _, _ in rows)
    human_only = sum(h and not s for s, h, _, _ in rows)
    n, agree = len(rows), both_pass + both_fail
    low, high = wilson(agree, n)
    diffs = [abs(s - h) for _, _, s, h in rows if s is not None and h is not None]
    return {
        "scorer": key, "n": n, "agreement": agree / n if n else None, "agreement_ci95": [low, high],
        "kappa": kappa(both_pass, scorer_only, human_only, both_fail),
        "confusion": {"both_pass": both_pass, "scorer_pass_human_fail": scorer_only,
                      "scorer_fail_human_pass": human_only, "both_fail": both_fail},
        "mean_abs_score_diff": sum(diffs) / len(diffs) if diffs else None,
    }  # fmt: skip
