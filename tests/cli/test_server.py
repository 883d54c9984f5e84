"""``agnt5 server`` as a real process: loopback by default, another address only with keys required, and the
guards (key, Host, body size) on the wire."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.services import keys

AGNT5 = [sys.executable, "-m", "agnt5_evals.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "evals.example.org"])
def test_the_server_refuses_another_address_than_loopback_without_keys(host):
    done = subprocess.run([*AGNT5, "server", "--host", host, "--port", str(free_port())], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "AGNT5_REQUIRE_API_KEYS": ""})  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: --host: refusing to listen on {host} without API keys: add --require-keys, or listen on 127.0.0.1"
    ]


def _wait_until_up(process: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.fixture
def served(store: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A server on 0.0.0.0 requiring keys (body limit 2,000 bytes); its base URL and a key of each scope."""
    with build() as svc:
        made = {scope: keys.create_key(svc, "default", scope)["key"] for scope in ("read", "write", "admin")}
    port = free_port()
    env = {**os.environ, "AGNT5_MAX_BODY_BYTES": "2000", "AGNT5_ALLOWED_HOSTS": ""}
    command = [*AGNT5, "server", "--host", "0.0.0.0", "--port", str(port), "--require-keys",
               "--allowed-host", "evals.internal"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_up(process, f"http://127.0.0.1:{port}/openapi.json")
        yield f"http://127.0.0.1:{port}", made
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_server_requiring_keys_serves_on_every_address(served):
    base, made = served
    refused = httpx.get(f"{base}/api/v1/datasets")
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    assert httpx.get(f"{base}/api/v1/datasets", headers={"X-API-KEY": made["read"]}).json() == []
    created = httpx.post(f"{base}/api/v1/datasets", json={"name": "wire"}, headers=_bearer(made["write"]))
    assert created.status_code == 201
    weak = httpx.post(f"{base}/api/v1/deployments", json={"name": "d", "url": base}, headers=_bearer(made["write"]))
    assert weak.status_code == 403 and weak.json()["code"] == "forbidden"


def test_the_host_header_is_checked_on_the_wire(served):
    base, made = served
    for host, status in (("evals.internal:8000", 200), ("localhost", 200), ("rebound.attacker.example", 421)):
        answer = httpx.get(f"{base}/api/v1/datasets", headers={"Host": host, "X-API-KEY": made["read"]})
        assert answer.status_code == status, host


def _post_chunked(base: str, token: str, pieces: list[bytes]) -> tuple[int, Any]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST", "/api/v1/datasets", body=iter(pieces), encode_chunked=True,
                           headers={"content-type": "application/json", "x-api-key": token})  # fmt: skip
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(served):
    base, made = served
    pieces = [b'{"name": "big", "description": "', *([b"x" * 500] * 8), b'"}']
    status, body = _post_chunked(base, made["write"], pieces)
    assert status == 413 and b"too_large" in body
    status, _ = _post_chunked(base, made["write"], [b'{"name": ', b'"small"}'])
    assert status == 201


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_malformed_body_limit_is_refused_before_serving():
    env = {**os.environ, "AGNT5_MAX_BODY_BYTES": "64 lots"}
    done = subprocess.run([*AGNT5, "server", "--port", str(free_port())], capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: AGNT5_MAX_BODY_BYTES: must be a number of bytes, got '64 lots'"]


def test_a_malformed_read_threads_setting_is_refused_before_serving():
    for bad in ("0", "two", "65"):
        env = {**os.environ, "AGNT5_SERVER_READ_THREADS": bad}
        done = subprocess.run([*AGNT5, "server", "--port", str(free_port())], capture_output=True, text=True,
                              timeout=120, env=env)  # fmt: skip
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            f"error: AGNT5_SERVER_READ_THREADS: must be a number of threads from 1 to 64, got {bad!r}"
        ]


def test_more_read_threads_than_the_pool_has_connections_are_refused_on_postgresql():
    env = {**os.environ, "AGNT5_SERVER_READ_THREADS": "11",
           "AGNT5_DATABASE_URL": "postgresql://127.0.0.1:5432/agnt5_never_made"}  # fmt: skip
    done = subprocess.run([*AGNT5, "server", "--port", str(free_port())], capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: AGNT5_SERVER_READ_THREADS: must be at most 10 on PostgreSQL (the connections of the view's pool), "
        "got 11"
    ]
