"""The REST API over the read model, on both stores, with problem bodies for bad requests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app
from tests.support import definition, wait_until

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def wait_done(client: TestClient, run_id: str) -> dict:
    def finished() -> dict | None:
        summary = client.get(f"/api/v1/runs/{run_id}").json()
        return summary if summary["status"] != "running" else None

    logs = Path(os.environ["AGNT5_HOME"]) / "logs"
    return wait_until(finished, 120, message=lambda: "\n".join(p.read_text() for p in logs.glob("*.log")))


def test_dataset_lifecycle_over_http(client):
    created = client.post("/api/v1/datasets", json={"name": "api-ds"})
    assert created.status_code == 201
    ds = created.json()["id"]
    assert (
        client.post(f"/api/v1/datasets/{ds}/items", json={"items": [{"input": 1}, {"input": 2}]}).json()["added"] == 2
    )
    version = client.post(f"/api/v1/datasets/{ds}/publish", json={}).json()
    assert (version["number"], version["n_items"]) == (1, 2)
    items = client.get(f"/api/v1/datasets/{ds}/versions/{version['id']}/items").json()
    assert [i["input"] for i in items] == [1, 2]
    again = client.post(f"/api/v1/datasets/{ds}/publish", json={})
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert "no unpublished changes" in again.json()["detail"]


def test_run_gate_compare_and_evidence_over_http(client, services, world):
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid",
                      '{"name":"tool_called","config":{"tool":"search_orders"}}')  # fmt: skip
    exp = str(services.app.create_experiment("api", "", spec).id)
    base = client.post(f"/api/v1/experiments/{exp}/runs", json={"name": "base"})
    assert base.status_code == 202 and base.json()["status"] == "running"
    cand = client.post(f"/api/v1/experiments/{exp}/runs", json={"name": "cand", "deployment_id": str(world["bad"])})
    base_id, cand_id = base.json()["id"], cand.json()["id"]
    assert wait_done(client, base_id)["passed_items"] == 10
    assert wait_done(client, cand_id)["failed_items"] == 5
    assert client.get(f"/api/v1/runs/{base_id}/gate").json()["exit_code"] == 0
    assert client.get(f"/api/v1/runs/{cand_id}/gate").json() == {
        "status": "completed", "pass_rate": 0.5, "passed_threshold": 1.0, "max_failed_items": None,
        "not_passed_items": 5, "passed": False, "exit_code": 2,
        "rules": [{"rule": "min_pass_rate", "observed": 0.5, "threshold": 1.0, "passed": False,
                   "message": "pass rate 50.0% < passed_threshold 1", "scorer": None, "baseline_run_id": None,
                   "upper_bound": None, "alpha": None, "paired_items": None}],
    }  # fmt: skip
    assert len(client.get(f"/api/v1/runs/{cand_id}/failures").json()) == 5
    flips = client.get(f"/api/v1/runs/{base_id}/compare/{cand_id}").json()
    assert len(flips["newly_failing"]) == 5
    score = next(s for s in client.get("/api/v1/scores", params={"run_id": cand_id}).json() if not s["passed"])
    evidence = client.get(f"/api/v1/scores/{score['id']}/evidence", params={"include": "scorer_output"}).json()
    assert evidence["scorer_output"]["passed"] is False and "scorer_input" not in evidence
    assert [r["id"] for r in client.get(f"/api/v1/experiments/{exp}/runs").json()] == [base_id, cand_id]

    # scores page in item order: the pages of 7 are the whole list, and the project API names the next page
    every = client.get("/api/v1/scores", params={"run_id": cand_id}).json()
    assert len(every) == 20  # 10 items, 2 scorers
    pages = [client.get("/api/v1/scores", params={"run_id": cand_id, "page": n, "page_size": 7}).json()
             for n in (1, 2, 3, 4)]  # fmt: skip
    assert [len(p) for p in pages] == [7, 7, 6, 0] and [s for p in pages for s in p] == every
    enveloped = client.get("/api/v1/projects/default/scores", params={"run_id": cand_id, "page": 2, "page_size": 7})
    assert enveloped.json()["next_cursor"] == "3" and enveloped.json()["data"] == pages[1]
    bad = client.get("/api/v1/scores", params={"run_id": cand_id, "page": 1, "page_size": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "page_size"


@pytest.mark.parametrize(
    ("method", "path", "status", "detail"),
    [
        ("get", f"/api/v1/runs/{MISSING}", 404, f"run {MISSING} not found"),
        ("get", "/api/v1/runs/nope", 422, "run_id: 'nope' is not a valid id"),
        ("post", f"/api/v1/runs/{MISSING}/cancel", 404, f"run {MISSING} not found"),
        ("post", f"/api/v1/experiments/{MISSING}/runs", 404, f"experiment {MISSING} not found"),
        ("get", "/api/v1/scores", 422, "give run_id, run_item_id or rescore_id"),
    ],
)
def test_errors_are_problem_bodies(client, method, path, status, detail):
    response = getattr(client, method)(path, **({"json": {}} if method == "post" else {}))
    assert response.status_code == status
    assert response.json()["status"] == status and detail in response.json()["detail"]


def test_create_an_experiment_with_the_reference_payload_and_read_its_run(client, world):
    body = {
        "name": "api-created", "dataset_id": str(world["dataset"]), "dataset_version_id": str(world["version"]),
        "target_type": "component", "deployment_id": str(world["good"]), "component_name": "support_agent",
        "component_type": "agent", "config": {"passed_threshold": 1}, "repetitions": 2,
        "scorers": ["json_valid", {"name": "tool_called", "config": {"tool": "search_orders"}}],
    }  # fmt: skip
    created = client.post("/api/v1/experiments", json=body)
    assert created.status_code == 201
    experiment = created.json()
    assert [s["key"] for s in experiment["definition"]["scorers"]] == ["json_valid", "tool_called"]
    assert experiment["definition"]["config"] == {"passed_threshold": 1, "repetitions": 2}
    run = client.post(f"/api/v1/experiments/{experiment['id']}/runs", json={"name": "api"}).json()
    done = wait_done(client, run["id"])
    assert (done["total_items"], done["passed_items"]) == (20, 20)
    same = client.get(f"/api/v1/experiments/{experiment['id']}/runs/{run['id']}").json()
    assert same["status"] == "completed" and same["repetitions"]["pass_at_k"] == 1.0


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"scorers": ["contains"]}, 422, "contains needs config"),
        ({"scorers": ["nope"]}, 422, "unknown scorer 'nope'"),
        ({"config": {"passed_threshold": 3}}, 422, "passed_threshold"),
        ({"gate_config": {"min_pass_rate": 3}}, 422, "gate_config.min_pass_rate"),
        ({"deployment_id": MISSING}, 404, f"deployment {MISSING} not found"),
        ({"target_type": "other"}, 422, "target.type: must be one of"),
    ],
)
def test_bad_experiment_bodies_are_problems_and_write_nothing(client, services, world, change, status, detail):
    body = {
        "name": "bad", "dataset_id": str(world["dataset"]), "dataset_version_id": str(world["version"]),
        "deployment_id": str(world["good"]), "component_name": "support_agent", "component_type": "agent",
        "scorers": ["json_valid"], **change,
    }  # fmt: skip
    head = services.app.recorder.max_notification_id()
    response = client.post("/api/v1/experiments", json=body)
    assert response.status_code == status and detail in response.json()["detail"]
    assert services.app.recorder.max_notification_id() == head


def test_a_malformed_body_is_a_problem_naming_the_field(client):
    response = client.post("/api/v1/datasets", json={"name": 5, "metadata": [1]})
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert (
        response.json()["detail"]
        == "name: Input should be a valid string; metadata: Input should be a valid dictionary"
    )


def test_a_run_started_over_http_may_override_config_for_itself(client, services, world):
    spec = definition(world["dataset"], world["version"], world["bad"], "json_valid")
    exp = str(services.app.create_experiment("api-override", "", spec).id)
    head = services.app.recorder.max_notification_id()
    bad = client.post(f"/api/v1/experiments/{exp}/runs", json={"config": {"concurrency": 0}})
    assert bad.status_code == 422 and "concurrency" in bad.json()["detail"]
    assert services.app.recorder.max_notification_id() == head
    run = client.post(f"/api/v1/experiments/{exp}/runs", json={"config": {"passed_threshold": 0.5}}).json()
    assert wait_done(client, run["id"])["pass_rate"] == 0.5
    assert client.get(f"/api/v1/runs/{run['id']}/gate").json()["exit_code"] == 0


def wait_rescored(client: TestClient, rescore_id: str) -> dict:
    def finished() -> dict | None:
        rescore = client.get(f"/api/v1/rescores/{rescore_id}").json()
        return rescore if rescore["status"] != "running" else None

    return wait_until(finished, message="rescore did not finish")


def test_rescore_over_http_on_both_paths(client, services, world):
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid")
    exp = str(services.app.create_experiment("api-rescore", "", spec).id)
    run = client.post(f"/api/v1/experiments/{exp}/runs", json={}).json()
    assert wait_done(client, run["id"])["passed_items"] == 10
    body = {"reason": "stricter", "replace_latest": True, "idempotency_key": "k1",
            "scorers": [{"name": "contains", "config": {"pattern": "delivered"}}]}  # fmt: skip
    started = client.post(f"/api/v1/eval/runs/{run['id']}/rescore", json=body)
    assert started.status_code == 202
    done = wait_rescored(client, started.json()["id"])
    assert (done["status"], done["failed_items"], len(done["newly_failing"])) == ("completed", 10, 10)
    assert client.get(f"/api/v1/runs/{run['id']}/gate").json()["exit_code"] == 2
    again = client.post(f"/api/v1/experiments/{exp}/runs/{run['id']}/rescore", json=body)
    assert again.json()["id"] == done["id"]  # the same idempotency key: nothing new
    assert [r["id"] for r in client.get(f"/api/v1/runs/{run['id']}/rescores").json()] == [done["id"]]
    contains = client.get("/api/v1/scores", params={"rescore_id": done["id"]}).json()
    assert len(contains) == 10 and all(s["is_current"] for s in contains)
    head = services.app.recorder.max_notification_id()
    other = client.post(f"/api/v1/experiments/{MISSING}/runs/{run['id']}/rescore", json={})
    assert other.status_code == 404
    bad = client.post(f"/api/v1/eval/runs/{run['id']}/rescore", json={"scorers": ["contains"]})
    assert bad.status_code == 422 and "contains" in bad.json()["detail"]
    assert services.app.recorder.max_notification_id() == head


def test_list_experiments_over_http(client, services, world):
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid")
    ids = [str(services.app.create_experiment(f"e{n}", "", spec).id) for n in range(3)]
    listed = client.get("/api/v1/experiments", params={"dataset_id": str(world["dataset"]), "type": "component"})
    assert [e["id"] for e in listed.json()] == ids
    assert [e["id"] for e in client.get("/api/v1/experiments", params={"page": 2, "page_size": 2}).json()] == ids[2:]
    bad = client.get("/api/v1/experiments", params={"status": "bogus"})
    assert bad.status_code == 422 and bad.json()["field"] == "status"


def test_annotations_and_agreement_over_http(client, services, world):
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid")
    exp = str(services.app.create_experiment("api-annotate", "", spec).id)
    run = client.post(f"/api/v1/experiments/{exp}/runs", json={}).json()
    wait_done(client, run["id"])
    items = client.get(f"/api/v1/runs/{run['id']}/items").json()
    first = client.post(f"/api/v1/eval/runs/{run['id']}/items/{items[0]['id']}/annotations",
                        json={"name": "h", "score": 1.0, "explanation": "fine"})  # fmt: skip
    assert first.status_code == 201 and first.json()["score"] == 1.0
    second = client.post(f"/api/v1/experiments/{exp}/runs/{run['id']}/items/{items[1]['id']}/annotations",
                         json={"name": "h", "label": "fail"})  # fmt: skip
    assert second.status_code == 201
    listed = client.get(f"/api/v1/runs/{run['id']}/annotations", params={"name": "h"}).json()
    assert [a["run_item_id"] for a in listed] == [items[0]["id"], items[1]["id"]]
    report = client.get(f"/api/v1/runs/{run['id']}/agreement").json()
    json_valid = next(s for s in report["scorers"] if s["scorer"] == "json_valid")
    assert (json_valid["n"], json_valid["agreement"]) == (2, 0.5)
    head = services.app.recorder.max_notification_id()
    bad = client.post(f"/api/v1/eval/runs/{run['id']}/items/{items[0]['id']}/annotations", json={"name": "h"})
    assert bad.status_code == 422 and bad.json()["field"] == "label, score"
    assert services.app.recorder.max_notification_id() == head
