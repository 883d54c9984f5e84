"""Schemathesis over the OpenAPI document: generated requests to every operation (a few per operation) never get
a 5xx and every response matches the schema the document gives it (status code, content type and body)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from agnt5_evals.api.main import create_app

CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


APP = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(autouse=True)
def _fresh_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each operation's cases run over a fresh embedded store, the app's lifespan started (its stores open)."""
    monkeypatch.setenv("AGNT5_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGNT5_DATABASE_URL", raising=False)
    with TestClient(APP):
        yield


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_requests_get_no_server_error_and_schema_conforming_answers(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
