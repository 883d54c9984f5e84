"""Shared fixtures of the reliability tests: the REST app and the CLI, on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app
from tests.cli.conftest import Agnt5
from tests.cli.conftest import agnt5 as cli_fixture

PROBLEM = {"type", "title", "status", "detail", "message", "code", "field"}


@pytest.fixture
def agnt5(store: str) -> Agnt5:
    """The CLI in-process, on the test's store (as in tests/cli)."""
    return cli_fixture.__wrapped__(store)  # type: ignore[attr-defined]


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def problem(response, status: int = 422) -> dict:
    """The problem body of a refused request (never a 500, never FastAPI's bare ``{"detail"}``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == PROBLEM and body["status"] == status
    return body
