"""Shared fixtures of the reliability tests: the REST app and the CLI, on both stores."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings

from agnt5_evals.api.main import create_app
from tests.cli.conftest import Agnt5, cli_runner

PROBLEM = {"type", "title", "status", "detail", "message", "code", "field"}


@pytest.fixture
def agnt5(store: str) -> Agnt5:
    """The CLI in-process, on the test's store (as in tests/cli)."""
    del store
    return cli_runner()


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


# Hypothesis profiles of the fuzz tests (test_fuzz_*.py): `ci` is small and reproducible (derandomize: the same
# examples on every run, so CI never flakes on a new one); `long` (AGNT5_RELIABILITY_LONG=1, scripts/reliability
# --long) tries hundreds of random examples per test. Each fuzz test takes its settings from `fuzz_settings`.
LONG = os.environ.get("AGNT5_RELIABILITY_LONG") == "1"
_SLOW_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
_NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]  # CI reports the failing example as found (shrinking
# a store-backed example can take minutes); the long profile shrinks it
settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_SLOW_FIXTURES, print_blob=True, phases=_NO_SHRINK)  # fmt: skip
settings.register_profile("long", max_examples=400, deadline=None, suppress_health_check=_SLOW_FIXTURES,
                          print_blob=True)  # fmt: skip


def fuzz_settings(ci_examples: int) -> settings:
    """The profile of this session (`long` with AGNT5_RELIABILITY_LONG=1), with this test's share of the CI budget."""
    profile = settings.get_profile("long" if LONG else "ci")
    return settings(profile, max_examples=profile.max_examples if LONG else ci_examples)
