"""A read that finds no free connection to the store, or loses it, answers 503 with a problem body and
``Retry-After``, never a bare 500; once connections are free again, the same read answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.auth import ServerConfig
from agnt5_evals.api.main import create_app


def test_a_read_that_finds_no_free_connection_is_a_503_problem(services, monkeypatch):
    if not services.settings.database_url:
        pytest.skip("a pool of connections is the PostgreSQL store's; SQLite opens its own")
    monkeypatch.setenv("AGNT5_PG_CONNECT_TIMEOUT_S", "1")  # how long a read waits for a free connection
    services.app.create_dataset("listed")
    with TestClient(create_app(services.settings, ServerConfig())) as client:
        pool = client.app.state.services.view.datastore.pool
        held = [pool.getconn() for _ in range(pool.max_size)]  # every connection busy (long reads, say)
        try:
            answer = client.get("/api/v1/datasets")
        finally:
            for connection in held:
                pool.putconn(connection)
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["code"] == "unavailable" and "try again" in answer.json()["message"]
        again = client.get("/api/v1/datasets")
        assert again.status_code == 200 and [row["name"] for row in again.json()] == ["listed"]
