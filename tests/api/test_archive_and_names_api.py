"""REST: archive and unarchive of datasets and experiments (both mounts, scope write), the ``archived`` list filter,
and ``GET /resolve`` (a name in the key's project only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.api.auth import ServerConfig
from agnt5_evals.api.main import create_app
from agnt5_evals.services import keys, projects
from tests.support import definition


@pytest.fixture
def client(services: Services, agent_dir: Path) -> Iterator[TestClient]:
    app = create_app(None, ServerConfig(require_keys=True, module_roots=(str(agent_dir),)))
    with TestClient(app) as test_client:
        yield test_client


def key(services: Services, project: str, scope: str) -> dict[str, str]:
    if project != "default" and scope == "admin":
        projects.create_project(services, project.title(), project)
    return {"X-API-KEY": str(keys.create_key(services, project, scope)["key"])}


def test_archive_hides_from_lists_in_both_mounts_and_needs_write(client, services, world):
    write, read = key(services, "default", "write"), key(services, "default", "read")
    ds = str(world["dataset"])
    refused = client.post(f"/api/v1/datasets/{ds}/archive", headers=read)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    archived = client.post(f"/api/v1/datasets/{ds}/archive", headers=write)
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert client.get("/api/v1/datasets", headers=read).json() == []
    listed = client.get("/api/v1/projects/default/datasets", params={"archived": "true"}, headers=read).json()
    assert [row["id"] for row in listed["data"]] == [ds]
    assert client.get(f"/api/v1/datasets/{ds}/versions", headers=read).json()[0]["id"] == str(world["version"])
    again = client.post(f"/api/v1/projects/default/datasets/{ds}/archive", headers=write)
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    back = client.post(f"/api/v1/projects/default/datasets/{ds}/unarchive", headers=write).json()["data"]
    assert back["archived"] is False
    assert [row["id"] for row in client.get("/api/v1/datasets", headers=read).json()] == [ds]


def test_an_archived_experiment_is_hidden_and_its_run_is_refused_with_409(client, services, world):
    write = key(services, "default", "write")
    exp = str(services.app.create_experiment("exp", "", definition(world["dataset"], world["version"],
                                                                   world["good"])).id)  # fmt: skip
    assert client.post(f"/api/v1/experiments/{exp}/archive", headers=write).json()["archived"] is True
    assert client.get("/api/v1/experiments", headers=write).json() == []
    shown = client.get("/api/v1/experiments", params={"archived": True}, headers=write).json()
    assert [row["id"] for row in shown] == [exp]
    assert [row["id"] for row in client.get("/api/v1/experiments", params={"status": "archived"},
                                            headers=write).json()] == [exp]  # fmt: skip
    head = services.app.recorder.max_notification_id()
    refused = client.post(f"/api/v1/experiments/{exp}/runs", json={}, headers=write)
    assert (refused.status_code, refused.json()["code"]) == (409, "conflict")
    assert "is archived" in refused.json()["message"] and "unarchive" in refused.json()["message"]
    assert services.app.recorder.max_notification_id() == head
    unarchived = client.post(f"/api/v1/projects/default/experiments/{exp}/unarchive", headers=write)
    assert unarchived.json()["data"]["archived"] is False


def test_resolve_answers_a_name_of_the_keys_project_only(client, services, world):
    admin_a, read = key(services, "team-a", "admin"), key(services, "default", "read")
    mine = client.get("/api/v1/resolve", params={"kind": "dataset", "ref": "orders"}, headers=read)
    assert mine.json() == {"kind": "dataset", "ref": "orders", "id": str(world["dataset"])}
    version = client.get("/api/v1/projects/default/resolve", headers=read,
                         params={"kind": "dataset_version", "ref": "v1", "parent": str(world["dataset"])})  # fmt: skip
    assert version.json()["data"]["id"] == str(world["version"])
    theirs = client.get("/api/v1/resolve", params={"kind": "dataset", "ref": "orders"}, headers=admin_a)
    assert (theirs.status_code, theirs.json()["field"]) == (404, "ref")
    client.post("/api/v1/datasets", json={"name": "orders"}, headers=key(services, "default", "write"))
    ambiguous = client.get("/api/v1/resolve", params={"kind": "dataset", "ref": "orders"}, headers=read)
    assert ambiguous.status_code == 422 and ambiguous.json()["message"].startswith("2 datasets are named 'orders'")
    bad = client.get("/api/v1/resolve", params={"kind": "key", "ref": "x"}, headers=read)
    assert (bad.status_code, bad.json()["field"]) == (422, "kind")
