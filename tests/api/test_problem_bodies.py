"""Problem bodies carry ``message``, ``code`` and ``field`` (the body's own terms, never a CLI flag), on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app

MISSING = "00000000-0000-4000-8000-000000000000"
PROBLEM = {"type", "title", "status", "detail", "message", "code", "field"}


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == PROBLEM and body["status"] == status
    assert "--" not in body["detail"] and "--" not in body["message"]
    return body


def experiment(world, **change) -> dict:
    return {
        "name": "bad", "dataset_id": str(world["dataset"]), "dataset_version_id": str(world["version"]),
        "deployment_id": str(world["good"]), "component_name": "support_agent", "component_type": "agent",
        "scorers": ["json_valid"], **change,
    }  # fmt: skip


def test_a_bad_target_type_names_target_type(client, world):
    body = problem(client.post("/api/v1/experiments", json=experiment(world, target_type="other")), 422)
    assert (body["code"], body["field"], body["title"]) == ("invalid", "target.type", "Invalid")
    assert body["message"] == "must be one of component, deployment, prompt, got 'other'"
    assert body["detail"] == f"target.type: {body['message']}"


def test_an_unknown_dataset_names_dataset_id(client, world):
    body = problem(client.post("/api/v1/experiments", json=experiment(world, dataset_id=MISSING)), 404)
    assert (body["code"], body["field"], body["title"]) == ("not_found", "dataset_id", "NotFound")
    assert body["message"] == f"dataset {MISSING} not found"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dataset_version_id": MISSING}, "dataset_version_id"),
        ({"deployment_id": MISSING}, "target.deployment_id"),
        ({"component_name": "nope"}, "target.component_name"),
        ({"scorers": ["json_valid", "tool_called"]}, "scorers[1].config"),
        ({"scorers": ["nope"]}, "scorers[0].name"),
        ({"config": {"passed_threshold": 3}}, "config.passed_threshold"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_experiment_fields_are_named(client, world, change, field):
    response = client.post("/api/v1/experiments", json=experiment(world, **change))
    assert problem(response, response.status_code)["field"] == field


def test_a_malformed_json_body_names_the_body(client, world):
    response = client.post("/api/v1/datasets", content=b'{"name": ', headers={"content-type": "application/json"})
    body = problem(response, 422)
    assert (body["code"], body["field"]) == ("invalid", "body")
    assert body["message"].startswith("malformed JSON")


def test_a_body_failing_validation_names_the_field(client):
    body = problem(client.post("/api/v1/datasets", json={"name": 5}), 422)
    assert (body["code"], body["field"], body["message"]) == ("invalid", "name", "Input should be a valid string")
    nested = problem(client.post("/api/v1/experiments", json={"name": "x", "dataset_id": "d"}), 422)
    assert nested["field"] == "dataset_version_id"  # the first missing field of the body


def test_a_conflict_has_its_code(client):
    ds = client.post("/api/v1/datasets", json={"name": "empty"}).json()["id"]
    body = problem(client.post(f"/api/v1/datasets/{ds}/publish", json={}), 409)
    assert (body["code"], body["field"]) == ("conflict", None)
