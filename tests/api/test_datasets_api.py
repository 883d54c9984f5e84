"""The dataset routes of spec 2.1 over HTTP, on both stores, with problem bodies naming the bad field."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app
from tests.support import definition, execute

MISSING = "00000000-0000-4000-8000-000000000000"
API = "/api/v1/datasets"


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def head(services) -> int:
    return services.app.recorder.max_notification_id() or 0


def problem(response, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]


def test_export_compare_restore_and_examples(client, services):
    ds = client.post(API, json={"name": "api"}).json()["id"]
    client.post(f"{API}/{ds}/items", json={"items": [{"input": 1}, {"input": 2, "split": "test"}]})
    v1 = client.post(f"{API}/{ds}/publish", json={}).json()["id"]
    exported = client.get(f"{API}/{ds}/versions/{v1}/export")
    assert exported.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in exported.text.splitlines()]
    assert [(item["input"], item["split"]) for item in lines] == [(1, None), (2, "test")]
    client.post(f"{API}/{ds}/items", json={"items": [{"input": 3}]})
    v2 = client.post(f"{API}/{ds}/publish", json={}).json()["id"]
    compared = client.get(f"{API}/{ds}/versions/{v1}/compare/{v2}").json()
    assert (len(compared["added"]), compared["removed"], compared["changed"]) == (1, [], [])
    restored = client.post(f"{API}/{ds}/versions/{v1}/restore-draft")
    assert restored.status_code == 200 and restored.json()["draft_items"] == 2
    draft = client.get(f"{API}/{ds}/examples", params={"draft": True}).json()
    assert [row["id"] for row in draft] == [item["id"] for item in lines]
    latest = client.get(f"{API}/{ds}/examples", params={"include_payload": True}).json()
    assert [row["input"] for row in latest] == [1, 2, 3]
    assert "input" not in client.get(f"{API}/{ds}/examples", params={"version": 1}).json()[0]


def test_csv_and_dedup(client, services):
    ds = client.post(API, json={"name": "api"}).json()["id"]
    body = {"csv": 'q,meta\n1,{}\n1,"[1]"\n1,{}\n', "input_column": "q", "metadata_column": "meta"}
    uploaded = client.post(f"{API}/{ds}/csv", json=body)
    assert uploaded.status_code == 201
    assert uploaded.json()["added"] == 2 and uploaded.json()["errors"][0]["line"] == 3
    before = head(services)
    problem(client.post(f"{API}/{ds}/csv", json={**body, "partial": False}), 422, "line 3: metadata")
    problem(client.post(f"{API}/{ds}/csv", json={"csv": "x\n1\n"}), 422, "input_column: no column 'input'")
    assert head(services) == before
    preview = client.get(f"{API}/{ds}/dedup", params={"include_preview": True}).json()
    assert preview["duplicates"] == 1 and preview["groups"][0]["input"] == 1
    problem(client.post(f"{API}/{ds}/dedup", json={"remove_item_ids": [MISSING]}), 404, "not in the draft")
    applied = client.post(f"{API}/{ds}/dedup", json={}).json()
    assert applied["removed"] == 1 and applied["draft_items"] == 1


def test_add_run_over_http(client, services, world):
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid")
    run = services.app.start_run(services.app.create_experiment("e", "", spec).id)
    execute(services, run.id)
    ds = client.post(API, json={"name": "from-run"}).json()["id"]
    added = client.post(f"{API}/{ds}/runs", json={"run_id": str(run.id), "expected_output": None})
    assert added.status_code == 201 and added.json()["added"] == 10
    rows = client.get(f"{API}/{ds}/examples", params={"draft": True, "include_payload": True}).json()
    assert rows[0]["expected_output"] is None and rows[0]["metadata"]["source_run_id"] == str(run.id)
    assert rows[0]["metadata"]["source_output"] == {"answer": "Order 1 is shipped"}
    before = head(services)
    problem(client.post(f"{API}/{ds}/runs", json={"run_id": MISSING}), 404, f"run_id: run {MISSING} not found")
    problem(client.post(f"{API}/{ds}/runs", json={"run_id": "x"}), 422, "run_id: 'x' is not a valid id")
    problem(client.post(f"{API}/{ds}/runs", json={}), 422, "run_id: Field required")
    assert head(services) == before


def test_unknown_ids_are_problems(client, services):
    ds = client.post(API, json={"name": "api"}).json()["id"]
    before = head(services)
    problem(client.get(f"{API}/{ds}/versions/{MISSING}/export"), 404, f"version_id: dataset version {MISSING}")
    problem(client.get(f"{API}/{ds}/versions/{MISSING}/compare/{MISSING}"), 404, "base_version_id")
    problem(client.post(f"{API}/{MISSING}/versions/{MISSING}/restore-draft"), 404, f"dataset {MISSING} not found")
    problem(client.get(f"{API}/{ds}/examples"), 404, "has no published version yet")
    problem(client.get(f"{API}/{ds}/examples", params={"version": "x"}), 422, "version")
    problem(client.get(f"{API}/{MISSING}/dedup"), 404, f"dataset {MISSING} not found")
    assert head(services) == before
