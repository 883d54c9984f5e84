"""Flaky items: verdicts that move across an experiment's runs."""

from __future__ import annotations

from typing import Any

from agnt5_evals.domain.flaky import flaky_items


def run(ident: str, **statuses: str | list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    items = [{"dataset_item_id": item, "status": s} for item, value in statuses.items()
             for s in ([value] if isinstance(value, str) else value)]  # fmt: skip
    return {"id": ident, "name": ident, "created_at": ident}, items


def test_an_item_that_always_passes_or_always_fails_is_not_flaky() -> None:
    assert flaky_items([run("r1", a="passed", b="failed"), run("r2", a="passed", b="errored")]) == []


def test_an_item_going_between_pass_and_fail_is_flaky_with_its_history() -> None:
    (item,) = flaky_items([run("r1", a="passed"), run("r2", a="failed"), run("r3", a="passed")])
    assert item["dataset_item_id"] == "a" and item["changes"] == 2
    assert [(h["run_id"], h["verdict"]) for h in item["history"]] == [("r1", "passed"), ("r2", "failed"),
                                                                       ("r3", "passed")]  # fmt: skip


def test_disagreeing_repetitions_are_mixed_and_flaky_and_absence_is_not_a_change() -> None:
    found = flaky_items([run("r1", a=["passed", "failed"], b="passed"), run("r2", b="passed"), run("r3", b="failed")])
    assert [(i["dataset_item_id"], i["changes"]) for i in found] == [("b", 1), ("a", 0)]
    assert [h["verdict"] for h in found[1]["history"]] == ["mixed", None, None]
