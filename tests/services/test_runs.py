"""Run and rescore use cases on both stores: each returns what it wrote, read back after its own wait."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.projections import queries
from agnt5_evals.services import experiments, runs
from tests.support import execute


def _experiment(svc: Services, world: dict[str, Any], deployment: str = "good") -> UUID:
    target = {"type": "component", "deployment_id": str(world[deployment]), "component_name": "support_agent",
              "component_type": "agent"}  # fmt: skip
    row = experiments.create_experiment(
        svc, "exp", "", world["dataset"], world["version"], target, ["json_valid"], None, {}
    )
    return UUID(row["id"])


def test_cancel_run_returns_the_cancelled_summary_after_its_own_write(
    services: Services, world: dict[str, Any]
) -> None:
    eid = _experiment(services, world)
    run_id = services.app.start_run(eid, "to-cancel").id  # no worker, and the read model has not seen it yet

    summary = runs.cancel_run(services, run_id, eid)

    assert (summary["id"], summary["status"], summary["reason"]) == (str(run_id), "cancelled", "cancelled by user")
    assert summary["experiment_id"] == str(eid)
    assert queries.run(services.view, str(run_id))["status"] == "cancelled"


def test_cancel_run_of_another_experiment_is_refused_and_the_run_goes_on(
    services: Services, world: dict[str, Any]
) -> None:
    eid, other = _experiment(services, world), _experiment(services, world, "bad")
    run_id = services.app.start_run(eid).id
    with pytest.raises(Invalid, match="does not belong to experiment"):
        runs.cancel_run(services, run_id, other)
    services.catch_up()
    assert queries.run(services.view, str(run_id))["status"] == "running"


def test_cancel_run_of_a_finished_run_is_a_conflict(services: Services, world: dict[str, Any]) -> None:
    run_id = services.app.start_run(_experiment(services, world)).id
    execute(services, run_id)
    with pytest.raises(Conflict):
        runs.cancel_run(services, run_id)


def test_cancel_rescore_returns_the_cancelled_rescore(services: Services, world: dict[str, Any]) -> None:
    run_id = services.app.start_run(_experiment(services, world)).id
    execute(services, run_id)
    services.catch_up()
    scorers = queries.run(services.view, str(run_id))["spec"]["scorers"]
    rescore_id = services.app.start_rescore(run_id, scorers, [], 10).id

    summary = runs.cancel_rescore(services, rescore_id)

    assert (summary["id"], summary["run_id"], summary["status"]) == (str(rescore_id), str(run_id), "cancelled")


def test_failures_lists_failed_and_errored_items_of_a_known_run(services: Services, world: dict[str, Any]) -> None:
    run_id = services.app.start_run(_experiment(services, world, "bad")).id
    execute(services, run_id)
    services.catch_up()

    failed = runs.failures(services, str(run_id))

    assert len(failed) == 5 and {item["status"] for item in failed} == {"failed"}  # the odd order ids
    with pytest.raises(NotFound):
        runs.failures(services, "00000000-0000-0000-0000-000000000000")


def test_wait_summary_of_a_finished_run_is_final_and_not_timed_out(services: Services, world: dict[str, Any]) -> None:
    run_id = services.app.start_run(_experiment(services, world)).id
    execute(services, run_id)
    services.catch_up()

    summary = runs.wait_summary(services, str(run_id), timeout=0)

    assert (summary["status"], summary["timed_out"], summary["done_items"]) == ("completed", False, 10)


def test_wait_summary_says_timed_out_when_the_run_goes_on(services: Services, world: dict[str, Any]) -> None:
    run_id = services.app.start_run(_experiment(services, world)).id  # no worker: it stays running
    services.catch_up()

    summary = runs.wait_summary(services, str(run_id), timeout=0)

    assert (summary["status"], summary["timed_out"]) == ("running", True)


def test_failures_carry_the_same_scores_as_the_full_listing(services: Services, world: dict[str, Any]) -> None:
    """Failures read only their own items' scores: each failed item equals the one in the full listing."""
    run_id = services.app.start_run(_experiment(services, world, "bad")).id
    execute(services, run_id)
    services.catch_up()
    every = {item["id"]: item for item in queries.run_items(services.view, str(run_id))}

    failed = runs.failures(services, str(run_id))

    added = {"stack", "failing_scorers", "input", "expected_output"}  # what failures add to a run item
    listed = [{key: value for key, value in item.items() if key not in added} for item in failed]
    assert listed and all(item["scores"] and item == every[item["id"]] for item in listed)
