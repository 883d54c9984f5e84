"""Human verdicts from annotations, and the agreement statistics (pure)."""

from __future__ import annotations

import pytest

from agnt5_evals.domain.annotations import ITEM, agreement, check_annotation, human_verdict, kappa, wilson
from agnt5_evals.domain.errors import Invalid


@pytest.mark.parametrize(
    ("annotation", "verdict"),
    [
        ({"score": 0.5, "label": "fail"}, True),  # a score wins over the label
        ({"score": 0.49}, False),
        ({"label": " PASS "}, True),
        ({"label": "Incorrect"}, False),
        ({"label": "meh"}, None),
    ],
)
def test_human_verdict(annotation, verdict):
    assert human_verdict(annotation) is verdict


def test_wilson_interval_known_values():
    low, high = wilson(8, 10)  # textbook value: 0.490 .. 0.943
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    assert wilson(0, 0) == (0.0, 1.0)


def test_kappa_known_values():
    # 20 items: both pass 10, scorer-only 5, human-only 0, both fail 5 -> po 0.75, pe 0.5 -> kappa 0.5
    assert kappa(10, 5, 0, 5) == pytest.approx(0.5)
    assert kappa(10, 0, 0, 10) == pytest.approx(1.0)
    assert kappa(6, 0, 0, 0) is None  # one class only: chance agreement is total


def test_agreement_uses_the_latest_annotation_and_skips_items_without_verdict():
    items = [
        {"id": "a", "status": "passed", "scores": [{"scorer_key": "s", "passed": True, "score": 1.0}]},
        {"id": "b", "status": "failed", "scores": [{"scorer_key": "s", "passed": False, "score": 0.0}]},
        {"id": "c", "status": "failed", "scores": [{"scorer_key": "s", "passed": False, "score": 0.2}]},
        {"id": "d", "status": "errored", "scores": []},
    ]
    notes = [
        {"run_item_id": "a", "name": "h", "label": "fail", "score": None},
        {"run_item_id": "a", "name": "h", "label": "pass", "score": None},  # later: wins
        {"run_item_id": "b", "name": "h", "label": None, "score": 0.0},
        {"run_item_id": "c", "name": "h", "label": "unsure", "score": None},
        {"run_item_id": "d", "name": "h", "label": "fail", "score": None},
        {"run_item_id": "b", "name": "other", "label": "pass", "score": None},
    ]
    report = agreement(items, notes, "h")
    assert (report["annotated_items"], report["without_verdict"]) == (4, 1)
    by = {s["scorer"]: s for s in report["scorers"]}
    assert (by["s"]["n"], by["s"]["agreement"], by["s"]["kappa"]) == (2, 1.0, 1.0)
    assert by["s"]["mean_abs_score_diff"] == 0.0  # only b has a human score: |0.0 - 0.0|
    assert (by[ITEM]["n"], by[ITEM]["confusion"]["both_pass"], by[ITEM]["confusion"]["both_fail"]) == (2, 1, 1)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (("", "pass", None, None, {}), "name"),
        (("h", None, None, None, {}), "label, score"),
        (("h", None, 1.5, None, {}), "score"),
        (("h", None, True, None, {}), "score"),
        (("h", 3, None, None, {}), "label"),
        (("h", "pass", None, None, []), "metadata"),
    ],
)
def test_bad_annotations_name_the_field(fields, field):
    with pytest.raises(Invalid) as info:
        check_annotation(*fields)
    assert info.value.field == field


def test_an_errored_score_gives_no_scorer_verdict():
    errored = {"scorer_key": "s", "passed": False, "errored": True, "score": 0.0}
    passed = {"scorer_key": "s", "passed": True, "errored": False, "score": 1.0}
    items = [{"id": "a", "status": "failed", "scores": [errored]}, {"id": "b", "status": "passed", "scores": [passed]}]
    notes = [{"run_item_id": item, "name": "h", "label": "pass", "score": None} for item in ("a", "b")]
    by = {s["scorer"]: s for s in agreement(items, notes, "h")["scorers"]}
    assert (by["s"]["n"], by["s"]["agreement"]) == (1, 1.0)
