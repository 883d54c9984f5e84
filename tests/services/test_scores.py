"""Score reads on both stores: a run's current scores, and an unknown run or rescore named as not found."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.services import scores
from tests.support import definition, execute


def test_list_scores_of_a_run_and_of_one_scorer(services: Services, world: dict[str, Any]) -> None:
    spec = definition(world["dataset"], world["version"], world["bad"], "json_valid", "exact_match")
    run_id = services.app.start_run(services.app.create_experiment("exp", "", spec).id).id
    execute(services, run_id)
    services.catch_up()

    every = scores.list_scores(services, str(run_id))
    valid = scores.list_scores(services, str(run_id), scorer="json_valid")

    assert len(every) == 20 and {s["scorer_key"] for s in every} == {"json_valid", "exact_match"}
    assert len(valid) == 10 and sum(bool(s["passed"]) for s in valid) == 5  # odd orders answer broken JSON


def test_list_scores_of_an_unknown_run_or_rescore_is_not_found(services: Services) -> None:
    with pytest.raises(NotFound, match="run"):
        scores.list_scores(services, str(UUID(int=1)))
    with pytest.raises(NotFound, match="rescore"):
        scores.list_scores(services, rescore_id=str(UUID(int=2)))
