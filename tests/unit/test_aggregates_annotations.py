"""Annotation without a store: an immutable label on one run item, and the rules of its fields."""

from __future__ import annotations

from uuid import uuid4

import pytest

from agnt5_evals.domain.annotations import Annotation, check_annotation
from agnt5_evals.domain.errors import Invalid
from tests.support import commands, replayed


def test_an_annotation_is_one_created_event_and_has_no_command():
    run_id = uuid4()
    annotation = Annotation(run_id=run_id, run_item_id="i", name="helpful", label="good", score=0.5,
                            explanation="ok", metadata={"by": "ann"})  # fmt: skip
    names, copy = replayed(annotation)
    assert names == ["Annotation.Created"]
    assert (copy.run_id, copy.run_item_id, copy.name, copy.label, copy.score, copy.explanation, copy.metadata) == (
        run_id, "i", "helpful", "good", 0.5, "ok", {"by": "ann"})  # fmt: skip
    assert commands(Annotation) == []  # immutable: a correction is a newer annotation


@pytest.mark.parametrize(("label", "score", "expected"), [("good", None, None), (None, 1, 1.0), ("x", 0, 0.0)])
def test_a_label_a_score_or_both_make_an_annotation(label, score, expected):
    assert check_annotation("n", label, score, None, {}) == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("", "good", None, None, {}), "name: must not be empty"),
        ((None, "good", None, None, {}), "name: must not be empty"),
        (("n", 1, None, None, {}), "label: must be a string"),
        (("n", None, 1.5, None, {}), "score: must be a number from 0 to 1, got 1.5"),
        (("n", None, True, None, {}), "score: must be a number from 0 to 1, got True"),
        (("n", None, "0.5", None, {}), "score: must be a number from 0 to 1"),
        (("n", None, None, None, {}), "label, score: give a label, a score or both"),
        (("n", "good", None, 3, {}), "explanation: must be a string"),
        (("n", "good", None, None, []), "metadata: must be a JSON object"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(fields, message):
    with pytest.raises(Invalid, match=message):
        check_annotation(*fields)
