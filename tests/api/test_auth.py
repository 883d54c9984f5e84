"""API keys over REST: shown once, stored hashed, accepted as Bearer and X-API-KEY, revoked at once, and each
scope against every route (read: GET only; write: no code; admin: everything), never a 5xx."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.auth import ServerConfig, needed_scope
from agnt5_evals.api.main import create_app
from agnt5_evals.domain.tenancy import Scope
from agnt5_evals.services import keys

ADMIN_PATHS = {("POST", "/deployments"), ("POST", "/scorers"), ("GET", "/keys"), ("POST", "/keys"),
               ("POST", "/keys/{key_id}/revoke"), ("POST", "/projects")}  # fmt: skip
# POST /projects (making a project) is served once projects have their routes; it has no /projects/{id} twin.


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, ServerConfig(require_keys=True))) as test_client:
        yield test_client


@pytest.fixture
def open_client(services) -> Iterator[TestClient]:
    """A server that does not require keys (local use)."""
    with TestClient(create_app(services.settings, ServerConfig())) as test_client:
        yield test_client


def key(services: Any, scope: str, project: str = "default") -> str:
    return str(keys.create_key(services, project, scope, f"{scope}-key")["key"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_key_is_shown_once_and_the_log_keeps_only_its_hash(services, client):
    admin = key(services, "admin")
    made = client.post("/api/v1/keys", json={"scope": "read", "name": "ci"}, headers=bearer(admin))
    assert made.status_code == 201
    secret = made.json()["key"]
    assert secret.startswith("agnt5_sk_") and made.json()["scope"] == "read" and made.json()["project_id"] == "default"
    listed = client.get("/api/v1/keys", headers=bearer(admin))
    assert listed.status_code == 200 and secret not in listed.text and admin not in listed.text
    assert {row["name"] for row in listed.json()} == {"admin-key", "ci"}
    assert set(listed.json()[0]) == {"id", "project_id", "scope", "name", "created_at", "revoked"}
    stored = services.app.recorder.select_notifications(start=1, limit=10_000)
    raw = b"".join(bytes(n.state) for n in stored)
    for token in (secret, admin):
        assert token.encode() not in raw and token[len("agnt5_sk_") + 32 :].encode() not in raw
    assert b"secret_sha256" in raw


def test_bearer_and_x_api_key_both_authenticate(services, client):
    token = key(services, "read")
    assert client.get("/api/v1/datasets", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/datasets", headers={"X-API-KEY": token}).status_code == 200
    assert client.get("/api/v1/projects/default/datasets", headers={"x-api-key": token}).json()["count"] == 0


def test_without_a_key_a_server_that_requires_keys_answers_401_with_a_problem_body(client):
    response = client.get("/api/v1/datasets")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["code"] == "unauthorized" and body["message"] and body["status"] == 401
    assert client.post("/api/v1/datasets", json={"name": "x"}).status_code == 401


@pytest.mark.parametrize(
    "token",
    ["agnt5_sk_nope", "sk-" + "a" * 40, "agnt5_sk_" + "5" * 32 + "secret", "agnt5_sk_" + "z" * 32 + "s"],
)
def test_a_bad_key_is_refused_even_when_keys_are_not_required_and_the_message_says_nothing(
    services, open_client, token
):
    assert open_client.get("/api/v1/datasets").status_code == 200  # no key: local use, as before
    response = open_client.get("/api/v1/datasets", headers=bearer(token))
    assert response.status_code == 401 and response.json()["message"] == "invalid API key"
    wrong_secret = key(services, "read")[:-4] + "AAAA"
    assert open_client.get("/api/v1/datasets", headers=bearer(wrong_secret)).json()["message"] == "invalid API key"
    assert open_client.get("/api/v1/datasets", headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401


def test_a_revoked_key_is_refused_at_once(services, client):
    admin, token = key(services, "admin"), key(services, "write")
    assert client.get("/api/v1/datasets", headers=bearer(token)).status_code == 200
    key_id = next(
        row["id"] for row in client.get("/api/v1/keys", headers=bearer(admin)).json() if row["scope"] == "write"
    )
    revoked = client.post(f"/api/v1/projects/default/keys/{key_id}/revoke", headers=bearer(admin))
    assert revoked.status_code == 200 and revoked.json()["data"]["revoked"] is True
    refused = client.get("/api/v1/datasets", headers=bearer(token))
    assert refused.status_code == 401 and refused.json()["message"] == "invalid API key"


def test_a_key_reaches_its_own_project_only(services, client):
    mine, theirs = key(services, "admin", "team-a"), key(services, "admin", "team-b")
    made = client.post("/api/v1/projects/team-a/keys", json={"scope": "read"}, headers=bearer(mine))
    assert made.status_code == 201 and made.json()["data"]["project_id"] == "team-a"
    for path in ("/api/v1/projects/team-a/keys", "/api/v1/projects/team-a/datasets"):
        assert client.get(path, headers=bearer(theirs)).status_code == 404
    other = client.post(
        "/api/v1/projects/team-a/datasets", json={"name": "x"}, headers=bearer(key(services, "read", "team-b"))
    )
    assert other.status_code == 404  # not 403: the project's existence is not told
    key_id = made.json()["data"]["id"]
    assert client.post(f"/api/v1/keys/{key_id}/revoke", headers=bearer(theirs)).status_code == 404
    assert [row["project_id"] for row in client.get("/api/v1/keys", headers=bearer(mine)).json()] == ["team-a"] * 2


def test_key_requests_are_checked_naming_the_field(services, client):
    admin = key(services, "admin")
    bad = client.post("/api/v1/keys", json={"scope": "root"}, headers=bearer(admin))
    assert bad.status_code == 422 and bad.json()["field"] == "scope"
    long = client.post("/api/v1/keys", json={"scope": "read", "name": "k" * 201}, headers=bearer(admin))
    assert long.status_code == 422 and long.json()["field"] == "name"
    assert client.post("/api/v1/keys/not-a-uuid/revoke", headers=bearer(admin)).json()["field"] == "key_id"


def _routes() -> list[tuple[str, str]]:
    doc = create_app(None, ServerConfig()).openapi()
    return sorted((method.upper(), path) for path, ops in doc["paths"].items() for method in ops)


def _url(path: str) -> str:
    return re.sub(r"{[^}]*}", lambda m: "default" if m.group(0) == "{project_id}" else str(uuid.uuid4()), path)


def test_the_admin_routes_are_those_that_run_code_call_out_or_manage_keys():
    admin = {(method, path) for method, path in _routes() if needed_scope(method, path) is Scope.admin}
    short = {(method, path.removeprefix("/api/v1")) for method, path in admin if "/projects/" not in path}
    served = {(method, path.removeprefix("/api/v1")) for method, path in _routes()}
    assert short == ADMIN_PATHS & served and ADMIN_PATHS - served <= {("POST", "/projects")}
    twins = {(m, p) for m, p in admin if p.startswith("/api/v1/projects/{project_id}/")}
    assert len(twins) == len(short - {("POST", "/projects")})


@pytest.mark.parametrize("scope", ["read", "write", "admin"])
def test_every_route_against_each_scope(services, client, scope):
    token = key(services, scope)
    for method, path in _routes():
        needed = needed_scope(method, path)
        response = client.request(method, _url(path), headers=bearer(token), json={} if method != "GET" else None)
        assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text[:300]}"
        allowed = Scope(scope).allows(needed)
        if not allowed:
            assert response.status_code == 403, f"{method} {path}"
            assert response.json()["code"] == "forbidden"
        else:
            assert response.status_code not in (401, 403), f"{method} {path}: {response.text[:300]}"
        admin = (method, path.replace("/api/v1/projects/{project_id}", "").replace("/api/v1", "")) in ADMIN_PATHS
        if scope == "read":
            assert allowed == (method == "GET" and not admin), f"{method} {path}"
        if scope == "write":
            assert allowed == (not admin), f"{method} {path}"


def test_the_openapi_document_declares_both_ways_to_present_a_key():
    doc = create_app(None, ServerConfig()).openapi()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer" and schemes["APIKeyHeader"]["name"] == "X-API-KEY"
    assert doc["paths"]["/api/v1/datasets"]["get"]["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
