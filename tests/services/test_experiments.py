"""Experiment use cases on both stores: create and update return the experiment as the read model now has it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import Invalid, NotFound
from agnt5_evals.projections import queries
from agnt5_evals.services import datasets, experiments


def _target(world: dict[str, Any]) -> dict[str, Any]:
    return {"type": "component", "deployment_id": str(world["good"]), "component_name": "support_agent",
            "component_type": "agent"}  # fmt: skip


def test_create_experiment_returns_its_definition_with_keyed_scorers(services: Services, world: dict[str, Any]) -> None:
    row = experiments.create_experiment(
        services, "exp", "about", world["dataset"], world["version"], _target(world), ["json_valid"], None,
        {"passed_threshold": 0.5},
    )  # fmt: skip

    assert (row["name"], row["description"], row["dataset_version_id"]) == ("exp", "about", str(world["version"]))
    assert [s["key"] for s in row["definition"]["scorers"]] == ["json_valid"]
    assert row["definition"]["config"] == {"passed_threshold": 0.5}


def test_create_experiment_with_an_unknown_custom_scorer_writes_nothing(
    services: Services, world: dict[str, Any]
) -> None:
    with pytest.raises(NotFound, match=f"scorer {UUID(int=7)} not found"):
        experiments.create_experiment(
            services, "exp", "", world["dataset"], world["version"], _target(world), None, [str(UUID(int=7))], {}
        )
    services.catch_up()
    assert queries.experiments(services.view) == []


def test_update_experiment_changes_only_what_is_given(services: Services, world: dict[str, Any]) -> None:
    created = experiments.create_experiment(
        services, "exp", "", world["dataset"], world["version"], _target(world), ["json_valid"], None, {}
    )
    datasets.add_items(services, world["dataset"], [{"input": {"order_id": 11}, "expected_output": 11}])
    version = UUID(datasets.publish(services, world["dataset"])["id"])

    row = experiments.update_experiment(services, UUID(created["id"]), config={"concurrency": 2},
                                        dataset_version_id=version)  # fmt: skip

    assert row["revision"] == created["revision"] + 1
    assert row["dataset_version_id"] == str(version)
    assert row["definition"]["config"] == {"concurrency": 2}
    assert row["definition"]["scorers"] == created["definition"]["scorers"]


def test_update_experiment_refuses_a_version_of_another_dataset(services: Services, world: dict[str, Any]) -> None:
    created = experiments.create_experiment(
        services, "exp", "", world["dataset"], world["version"], _target(world), ["json_valid"], None, {}
    )
    other = datasets.create_dataset(services, "other")
    datasets.add_items(services, UUID(other["id"]), [{"input": 1}])
    version = UUID(datasets.publish(services, UUID(other["id"]))["id"])
    with pytest.raises(Invalid):
        experiments.update_experiment(services, UUID(created["id"]), dataset_version_id=version)
