"""Schemathesis over the OpenAPI document: generated requests to every operation (a few per operation) never get
a 5xx and every response matches the schema the document gives it (status code, content type and body).

The requests go over real HTTP to a server in a thread (``tests/api/live.py``) on one embedded store per test
process, which data accumulates in; the server stops with the module, leaving no thread behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from agnt5_evals.api.main import create_app
from tests.api.live import live_server

CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
schema = schemathesis.openapi.from_dict(create_app().openapi())


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AGNT5_HOME", str(tmp_path_factory.mktemp("schemathesis") / "home"))
        env.delenv("AGNT5_DATABASE_URL", raising=False)
        with live_server(require_keys=False) as url:
            yield url


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_requests_get_no_server_error_and_schema_conforming_answers(
    case: schemathesis.Case, base_url: str
) -> None:
    case.call_and_validate(base_url=base_url, checks=CHECKS)
