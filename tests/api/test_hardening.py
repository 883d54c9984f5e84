"""The server's guards: the Host header, the body size, field lengths, the module roots of deployments, and HTTP
deployment URLs (never echoing what a target answered; the optional allow-list of hosts)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.auth import LOCAL_HOSTS, ServerConfig
from agnt5_evals.api.guards import BodyLimit
from agnt5_evals.api.main import create_app, server_app

SECRET = "TOP-SECRET-f00dfeed"
MODULE = """
from agnt5_evals import component


@component("echo", type="function")
def echo(input):
    return input
"""


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, ServerConfig(max_body_bytes=100_000))) as test_client:
        yield test_client


# -- the Host header ---------------------------------------------------------------------------------------------


def test_a_host_the_server_was_not_told_is_refused(services, monkeypatch):
    monkeypatch.setenv("AGNT5_ALLOWED_HOSTS", "evals.internal, CI.example.org")
    with TestClient(server_app(), base_url="http://127.0.0.1:8000") as client:
        assert client.get("/api/v1/datasets").status_code == 200
        for host in ("localhost:8000", "[::1]:8000", "evals.internal", "ci.example.org:443"):
            assert client.get("/api/v1/datasets", headers={"Host": host}).status_code == 200, host
        for host in ("rebind.attacker.example:8000", "testserver", "", "127.0.0.1.attacker.example"):
            refused = client.get("/api/v1/datasets", headers={"Host": host})
            assert refused.status_code == 421, host
            assert refused.json()["field"] == "host" and refused.json()["message"] and refused.json()["code"]
        assert client.get("/docs", headers={"Host": "rebind.attacker.example"}).status_code == 421


def test_the_default_names_are_the_local_ones():
    assert ServerConfig.from_env(check_host=True).allowed_hosts == frozenset(LOCAL_HOSTS)


# -- body size ---------------------------------------------------------------------------------------------------


def test_a_body_above_the_limit_is_refused_with_413(client):
    big = client.post("/api/v1/datasets", json={"name": "x", "description": "y" * 200_000})
    assert big.status_code == 413
    assert big.json()["code"] == "too_large" and big.json()["field"] == "body" and "100,000" in big.json()["message"]
    assert client.post("/api/v1/datasets", json={"name": "small"}).status_code == 201


def test_a_streamed_body_without_content_length_is_cut_at_the_limit(client):
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "x", "description": "'
        for _ in range(50):
            yield b"y" * 10_000
        yield b'"}'

    response = client.post("/api/v1/datasets", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_a_content_length_that_lies_does_not_pass_the_limit():
    """Straight at the ASGI guard: the header says 10 bytes, the body streams 3,000."""
    reached: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    messages = [{"type": "http.request", "body": b"z" * 1000, "more_body": True}] * 2
    messages.append({"type": "http.request", "body": b"z" * 1000, "more_body": False})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"10")]}
    asyncio.run(BodyLimit(app, limit=2500)(scope, receive, send))
    assert not reached and sent[0]["status"] == 413 and b"too_large" in sent[1]["body"]


# -- field lengths -----------------------------------------------------------------------------------------------


def test_a_50_mb_name_is_refused_naming_the_field(services):
    with TestClient(create_app(services.settings, ServerConfig())) as client:
        response = client.post("/api/v1/datasets", json={"name": "n" * 50_000_000})
    assert response.status_code == 422 and response.json()["field"] == "name"
    assert "at most 200 characters" in response.json()["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/datasets", {"name": "n" * 201}, "name"),
        ("/datasets", {"name": "ok", "description": "d" * 10_001}, "description"),
        ("/prompts", {"name": "p" * 201, "model": "m", "messages": [{"role": "user", "content": "hi"}]}, "name"),
        ("/keys", {"scope": "read", "name": "k" * 201}, "name"),
        ("/experiments/7e0b3c4a-0c4e-4d2b-9a57-3d1f0c9b2a11/runs", {"name": "r" * 201}, "name"),
        ("/deployments", {"name": "d" * 201, "url": "http://127.0.0.1:9"}, "name"),
    ],
)
def test_long_names_and_descriptions_are_refused_naming_the_field(client, path, body, field):
    response = client.post(f"/api/v1{path}", json=body)
    assert response.status_code == 422 and response.json()["field"] == field, response.text[:300]


# -- module roots ------------------------------------------------------------------------------------------------


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "roots"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod_in_root.py").write_text(MODULE)
    monkeypatch.setenv("AGNT5_MODULE_ROOTS", str(root))
    return root


def test_a_module_outside_the_roots_is_refused_and_one_inside_is_deployed(services, roots, agent_dir, tmp_path):
    (roots / "link").symlink_to(agent_dir, target_is_directory=True)
    with TestClient(create_app(services.settings)) as client:
        for path in (str(agent_dir), str(roots / "link"), str(roots / ".." / "agents"), "/", None):
            body = {"name": "d", "module": "good_agent", **({"path": path} if path else {})}
            refused = client.post("/api/v1/deployments", json=body)
            assert refused.status_code == 403, path
            assert refused.json()["field"] == "path" and refused.json()["code"] == "forbidden"
        made = client.post("/api/v1/deployments", json={"name": "ok", "module": "mod_in_root",
                                                        "path": str(roots / "pkg")})  # fmt: skip
        assert made.status_code == 201 and made.json()["components"] == [{"name": "echo", "type": "function"}]


def test_without_roots_the_server_imports_no_module(services, agent_dir, monkeypatch):
    monkeypatch.delenv("AGNT5_MODULE_ROOTS", raising=False)
    with TestClient(create_app(services.settings)) as client:
        body = {"name": "d", "module": "good_agent", "path": str(agent_dir), "editable": True}
        refused = client.post("/api/v1/deployments", json=body)
    assert refused.status_code == 403 and "AGNT5_MODULE_ROOTS" in refused.json()["message"]


# -- HTTP deployment URLs ----------------------------------------------------------------------------------------


def leaky(status: int, body: bytes, content_type: str = "text/plain") -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, f"db_password={SECRET}".encode(), "text/plain"),
        (500, f"<html>internal admin page {SECRET}</html>".encode(), "text/html"),
        (403, f'{{"error": "{SECRET}"}}'.encode(), "application/json"),
        (200, f'[{{"token": "{SECRET}"}}]'.encode(), "application/json"),
        (200, f'{{"components": [{{"name": "x", "secret": "{SECRET}"}}]}}'.encode(), "application/json"),
    ],
)
def test_a_url_deployment_never_echoes_what_the_target_answered(client, serve, status, body, content_type):
    url = serve(leaky(status, body, content_type))
    response = client.post("/api/v1/deployments", json={"name": "probe", "url": url})
    assert response.status_code == 422 and response.json()["field"] == "url"
    assert SECRET not in response.text


def test_the_target_allow_list_refuses_other_hosts(client, serve, monkeypatch):
    url = serve(leaky(200, b'[{"name": "agent", "type": "agent"}]', "application/json"))
    monkeypatch.setenv("AGNT5_TARGET_HOSTS", "workers.internal,*.example.org")
    refused = client.post("/api/v1/deployments", json={"name": "w", "url": url})
    assert refused.status_code == 403 and refused.json()["field"] == "url"
    assert "AGNT5_TARGET_HOSTS" in refused.json()["message"]
    monkeypatch.setenv("AGNT5_TARGET_HOSTS", "workers.internal, 127.0.0.1")
    made = client.post("/api/v1/deployments", json={"name": "w", "url": url})
    assert made.status_code == 201 and made.json()["components"] == [{"name": "agent", "type": "agent"}]
