"""The project API: every resource route under ``/api/v1/projects/{project_id}``, in the control plane's envelope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app

BASE = "/api/v1/projects/default"


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def test_one_resource_is_enveloped_in_data_and_equals_the_short_form(client):
    created = client.post(f"{BASE}/datasets", json={"name": "enveloped"})
    assert created.status_code == 201
    dataset = created.json()["data"]
    assert set(created.json()) == {"data"} and dataset["name"] == "enveloped"
    assert client.get(f"{BASE}/datasets/{dataset['id']}").json() == {"data": dataset}
    assert client.get(f"/api/v1/datasets/{dataset['id']}").json() == dataset


def test_a_list_carries_its_count_and_the_next_page_when_it_was_full(client):
    ids = [client.post(f"{BASE}/datasets", json={"name": f"ds-{n}"}).json()["data"]["id"] for n in range(3)]
    listed = client.get(f"{BASE}/datasets").json()
    assert [row["id"] for row in listed["data"]] == ids and listed["count"] == 3 and listed["next_cursor"] is None
    empty = client.get(f"{BASE}/experiments", params={"page": 1, "page_size": 2}).json()
    assert empty == {"data": [], "count": 0, "next_cursor": None}


def test_the_audit_log_is_enveloped_under_the_project_form(client):
    client.post(f"{BASE}/datasets", json={"name": "audited"})
    short = client.get("/api/v1/audit/events", params={"limit": 50}).json()
    listed = client.get(f"{BASE}/audit/events", params={"limit": 50}).json()
    assert isinstance(short, list) and short and listed["data"] == short and listed["count"] == len(short)


def test_json_lines_answer_the_same_under_both_forms(client):
    dataset = client.post(f"{BASE}/datasets", json={"name": "lines"}).json()["data"]["id"]
    client.post(f"{BASE}/datasets/{dataset}/items", json={"items": [{"input": 1}, {"input": 2}]})
    version = client.post(f"{BASE}/datasets/{dataset}/publish", json={}).json()["data"]["id"]
    path = f"/datasets/{dataset}/versions/{version}/export"
    projected, short = client.get(f"{BASE}{path}"), client.get(f"/api/v1{path}")
    assert projected.status_code == 200 and projected.headers["content-type"].startswith("application/x-ndjson")
    assert projected.content == short.content and len(projected.content.splitlines()) == 2


def test_a_malformed_project_id_is_refused_naming_the_field(client):
    response = client.get("/api/v1/projects/Not A Project/datasets")
    assert response.status_code == 422 and response.json()["field"] == "project_id"
    assert response.json()["code"] == "invalid" and response.json()["message"]


def test_errors_keep_message_and_code_under_the_project_form(client):
    response = client.get(f"{BASE}/datasets/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and "not found" in response.json()["message"]


def test_the_openapi_document_shows_the_envelope(client):
    paths = client.get("/openapi.json").json()["paths"]
    listed = paths["/api/v1/projects/{project_id}/datasets"]["get"]["responses"]["200"]["content"]
    schema = listed["application/json"]["schema"]
    assert "Page" in schema["$ref"]
