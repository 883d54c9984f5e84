"""REST writes for deployments, custom scorers and prompts, with problem bodies for bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app

SCORER = """
from agnt5_evals import scorer


@scorer("always")
def always(request):
    return 1.0
"""


@pytest.fixture
def client(services, tmp_path, monkeypatch) -> Iterator[TestClient]:
    monkeypatch.setenv("AGNT5_MODULE_ROOTS", str(tmp_path))  # the server imports modules from here only
    with TestClient(create_app()) as test_client:
        yield test_client


def test_deployments_and_custom_scorers_over_http(client, agent_dir):
    (agent_dir / "api_scorers.py").write_text(SCORER)
    made = client.post("/api/v1/deployments", json={"name": "s", "module": "api_scorers", "path": str(agent_dir)})
    assert made.status_code == 201 and made.json()["components"] == [{"name": "always", "type": "scorer"}]
    scorer = client.post("/api/v1/scorers", json={"name": "always-ok", "deployment_id": made.json()["id"],
                                                  "component_name": "always"})  # fmt: skip
    assert scorer.status_code == 201
    listed = client.get("/api/v1/scorers").json()
    assert [s["name"] for s in listed["custom"]] == ["always-ok"]
    assert any(s["name"] == "contains" and s["requires_config"] for s in listed["builtin"])
    clash = client.post("/api/v1/scorers", json={"name": "exact_match", "deployment_id": made.json()["id"],
                                                 "component_name": "always"})  # fmt: skip
    assert clash.status_code == 422 and "built-in scorer" in clash.json()["detail"]
    both = client.post("/api/v1/deployments", json={"name": "x", "module": "m", "url": "http://127.0.0.1:1"})
    assert both.status_code == 422 and "give exactly one" in both.json()["detail"]


def test_prompts_and_versions_over_http(client):
    body = {"name": "p", "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi {{ name }}"}]}
    prompt = client.post("/api/v1/prompts", json=body)
    assert prompt.status_code == 201 and prompt.json()["version"]["number"] == 1
    pid = prompt.json()["id"]
    second = client.post(f"/api/v1/prompts/{pid}/versions", json={**body, "output_format": "json"})
    assert second.status_code == 201 and second.json()["number"] == 2
    assert [v["number"] for v in client.get(f"/api/v1/prompts/{pid}/versions").json()] == [1, 2]
    bad = client.post("/api/v1/prompts", json={**body, "messages": [{"role": "robot", "content": "x"}]})
    assert bad.status_code == 422 and "role" in bad.json()["detail"]
