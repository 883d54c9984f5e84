"""Catalog use cases on both stores: deployments, custom scorers, prompts and their versions, read back at once."""

from __future__ import annotations

from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import Invalid, NotFound
from agnt5_evals.services import catalog

SOURCE = {"kind": "python", "module": "judges", "path": "/srv/judges", "url": "",
          "components": [{"name": "judge", "type": "scorer"}, {"name": "agent", "type": "agent"}]}  # fmt: skip
CONTENT = {"messages": [{"role": "user", "content": "Hi {{ name }}"}], "model": "m1"}


def test_create_deployment_returns_its_row_with_the_components(services: Services) -> None:
    row = catalog.create_deployment(services, "judges@v1", SOURCE)

    assert (row["name"], row["kind"], row["module"]) == ("judges@v1", "python", "judges")
    assert row["components"] == SOURCE["components"]


def test_create_scorer_returns_its_row_and_its_spec(services: Services) -> None:
    deployment = UUID(catalog.create_deployment(services, "judges@v1", SOURCE)["id"])

    row = catalog.create_scorer(services, "judge", "grades answers", deployment, "judge")

    assert (row["name"], row["description"], row["deployment_id"]) == ("judge", "grades answers", str(deployment))
    spec = catalog.scorer_spec(services, UUID(row["id"]))
    assert (spec["type"], spec["scorer_id"], spec["component_name"]) == ("custom", row["id"], "judge")


def test_create_scorer_needs_a_scorer_component(services: Services) -> None:
    deployment = UUID(catalog.create_deployment(services, "judges@v1", SOURCE)["id"])
    with pytest.raises(Invalid):
        catalog.create_scorer(services, "not-a-judge", "", deployment, "agent")
    with pytest.raises(NotFound):
        catalog.scorer_spec(services, UUID(int=1))


def test_create_prompt_returns_the_prompt_with_version_1_then_versions_count_on(services: Services) -> None:
    row = catalog.create_prompt(services, "greeter", CONTENT, "says hi")

    assert (row["name"], row["description"], row["versions"]) == ("greeter", "says hi", 1)
    assert (row["version"]["number"], row["version"]["model"]) == (1, "m1")
    second = catalog.create_prompt_version(services, UUID(row["id"]), {**CONTENT, "model": "m2"})
    assert (second["number"], second["model"], second["prompt_id"]) == (2, "m2", row["id"])
