"""Project isolation on every route: project A holds one of every resource; a key of project B gets 404 on every
route that names one of A's ids (in the path, or in a body), in both forms of the API, and nothing is written to the
log. A key whose scope the route does not allow gets 403 first, whatever the ids (the route decides, not the data).
A's own key reaches the same ids (so the 404s are isolation, not typos)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.api.auth import ServerConfig, needed_scope
from agnt5_evals.api.main import create_app
from agnt5_evals.domain.tenancy import Scope
from agnt5_evals.services import keys, projects
from tests.support import wait_until

TOOL_CALLED = {"name": "tool_called", "config": {"tool": "search_orders"}}
PROMPT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi {{ name }}"}]}
BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("POST", "/datasets/{dataset_id}/items"): {"items": [{"input": 1}]},
    ("POST", "/datasets/{dataset_id}/examples"): {"input": 1},
    ("POST", "/datasets/{dataset_id}/publish"): {},
    ("POST", "/datasets/{dataset_id}/runs"): {"run_id": "{run_id}"},
    ("POST", "/datasets/{dataset_id}/csv"): {"csv": "input\n1\n"},
    ("POST", "/datasets/{dataset_id}/dedup"): {},
    ("POST", "/prompts/{prompt_id}/versions"): PROMPT,
    ("PATCH", "/experiments/{experiment_id}"): {"config": {"passed_threshold": 0.5}},
    ("POST", "/experiments/{experiment_id}/runs"): {},
    ("POST", "/runs/{run_id}/rerun"): {},
    ("POST", "/runs/{run_id}/regression-dataset"): {"name": "stolen", "run_item_ids": ["{item_id}"]},
    ("POST", "/eval/runs/{run_id}/rescore"): {},
    ("POST", "/experiments/{experiment_id}/runs/{run_id}/rescore"): {},
    ("POST", "/eval/runs/{run_id}/items/{item_id}/annotations"): {"name": "h", "score": 1.0},
    ("POST", "/experiments/{experiment_id}/runs/{run_id}/items/{item_id}/annotations"): {"name": "h", "score": 1.0},
}
"""A valid body for each POST or PATCH route with ids in its path (``{name}``: that id of project A)."""

REFERENCES: list[tuple[str, dict[str, Any]]] = [  # B's own routes, with A's ids inside the body
    (
        "/experiments",
        {
            "name": "x",
            "dataset_id": "{dataset_id}",
            "dataset_version_id": "{version_id}",
            "deployment_id": "{deployment_id}",
            "component_name": "support_agent",
            "component_type": "agent",
            "scorers": ["json_valid"],
        },
    ),
    ("/scorers", {"name": "s", "deployment_id": "{deployment_id}", "component_name": "support_agent"}),
]


def fill(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every ``{name}`` replaced by project A's id of that name."""
    if isinstance(value, str):
        return re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], value)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def client(services: Services, agent_dir: Path) -> Iterator[TestClient]:
    app = create_app(None, ServerConfig(require_keys=True, module_roots=(str(agent_dir),)))
    with TestClient(app) as test_client:
        yield test_client


def make(services: Services, project: str) -> dict[str, str]:
    projects.create_project(services, project.title(), project)
    return {scope: str(keys.create_key(services, project, scope)["key"]) for scope in ("read", "write", "admin")}


def project_a(client: TestClient, key: str, agent_dir: Path) -> dict[str, str]:
    """One of every resource in project A, through its own admin key; their ids by path parameter name."""

    def post(path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        response = client.post(f"/api/v1{path}", json=body, headers={"X-API-KEY": key})
        assert response.status_code == status, response.text
        return dict(response.json())

    def get(path: str) -> Any:
        response = client.get(f"/api/v1{path}", headers={"X-API-KEY": key})
        assert response.status_code == 200, response.text
        return response.json()

    ds = post("/datasets", {"name": "a-cases"})["id"]
    post(f"/datasets/{ds}/items", {"items": [{"input": {"order_id": 1}}, {"input": {"order_id": 2, "explode": True}}]})
    v1 = post(f"/datasets/{ds}/publish", {})["id"]
    post(f"/datasets/{ds}/items", {"items": [{"input": {"order_id": 3}}]})
    v2 = post(f"/datasets/{ds}/publish", {})["id"]
    dep = post("/deployments", {"name": "good", "module": "good_agent", "path": str(agent_dir)})["id"]
    prompt = post("/prompts", {"name": "p", **PROMPT})["id"]
    body = {"name": "a-exp", "dataset_id": ds, "dataset_version_id": v1, "deployment_id": dep,
            "component_name": "support_agent", "component_type": "agent",
            "scorers": ["json_valid", TOOL_CALLED]}  # fmt: skip
    exp = post("/experiments", body)["id"]
    run = post(f"/experiments/{exp}/runs", {}, 202)["id"]
    wait_until(lambda: get(f"/runs/{run}")["status"] != "running", message="project A's run did not finish")
    items = get(f"/runs/{run}/items")
    score = get(f"/scores?run_id={run}")[0]["id"]
    rescore = post(f"/eval/runs/{run}/rescore", {}, 202)["id"]
    wait_until(lambda: get(f"/rescores/{rescore}")["status"] != "running", message="project A's rescore did not end")
    post(f"/eval/runs/{run}/items/{items[0]['id']}/annotations", {"name": "h", "score": 1.0})
    key_id = get("/keys")[0]["id"]
    return {"dataset_id": ds, "version_id": v1, "base_version_id": v1, "compare_version_id": v2,
            "deployment_id": dep, "prompt_id": prompt, "experiment_id": exp, "run_id": run, "base_run_id": run,
            "compare_run_id": run, "item_id": items[0]["id"], "score_id": score, "rescore_id": rescore,
            "key_id": key_id}  # fmt: skip


def routes(client: TestClient) -> list[tuple[str, str]]:
    """``(METHOD, path)`` of every short-form resource route with an id in its path (``/api/v1`` left out)."""
    doc = client.app.openapi()  # type: ignore[attr-defined]
    return sorted(
        (method.upper(), path.removeprefix("/api/v1"))
        for path, operations in doc["paths"].items()
        for method in operations
        if path.startswith("/api/v1/") and not path.startswith("/api/v1/projects") and "{" in path
    )


def test_every_route_answers_404_to_another_projects_key_and_writes_nothing(client, services, agent_dir):
    a, b = make(services, "team-a"), make(services, "team-b")
    ids = project_a(client, a["admin"], agent_dir)
    head = services.app.recorder.max_notification_id()
    checked = 0
    for method, path in routes(client):
        body = BODIES.get((method, path))
        bodiless = method in ("GET", "DELETE") or any(word in path for word in ("cancel", "archive", "revoke"))
        assert bodiless or body is not None or path.endswith("restore-draft"), (
            f"{method} {path}: add a valid body to BODIES"
        )
        url, payload = fill(path, ids), fill(body, ids)
        needed = needed_scope(method, path)
        for scope, key in b.items():
            for form in (f"/api/v1{url}", f"/api/v1/projects/team-a{url}"):
                response = client.request(method, form, json=payload, headers={"Authorization": f"Bearer {key}"})
                allowed = Scope(scope).allows(needed) or form.startswith("/api/v1/projects/")
                expected = (404, "not_found") if allowed else (403, "forbidden")
                got = (response.status_code, response.json().get("code"))
                assert got == expected, f"{scope} key of B: {method} {form}: {response.text}"
                checked += 1
        if method == "GET":  # A's own key reaches the same ids: the 404s above are isolation
            own = client.get(f"/api/v1{url}", headers={"X-API-KEY": a["read"]})
            assert own.status_code == 200, f"A's key: GET {url}: {own.text}"
    for path, body in REFERENCES:
        response = client.post(f"/api/v1{path}", json=fill(body, ids), headers={"X-API-KEY": b["admin"]})
        assert response.status_code == 404, f"B referencing A's ids in POST {path}: {response.text}"
    assert checked > 200
    assert services.app.recorder.max_notification_id() == head, "a refused request wrote to the log"


def test_lists_and_the_projects_list_show_each_key_its_own_project_only(client, services, agent_dir):
    a, b = make(services, "team-a"), make(services, "team-b")
    ids = project_a(client, a["admin"], agent_dir)
    for path in ("/datasets", "/deployments", "/prompts", "/experiments", f"/experiments/{ids['experiment_id']}/runs"):
        mine = client.get(f"/api/v1{path}", headers={"X-API-KEY": a["read"]})
        theirs = client.get(f"/api/v1{path}", headers={"X-API-KEY": b["read"]})
        assert mine.status_code == 200 and mine.json(), path
        assert theirs.status_code == 404 if "{" in path or "/runs" in path else theirs.json() == [], path
    assert client.get("/api/v1/scorers", headers={"X-API-KEY": b["read"]}).json()["custom"] == []
    listed = client.get("/api/v1/projects", headers={"X-API-KEY": b["read"]}).json()
    assert [row["id"] for row in listed["data"]] == ["team-b"]
    assert client.get("/api/v1/projects/team-a", headers={"X-API-KEY": b["admin"]}).status_code == 404
    made = client.post("/api/v1/projects", json={"name": "x"}, headers={"X-API-KEY": b["admin"]})
    assert made.status_code == 403
