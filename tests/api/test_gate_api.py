"""GET /runs/{id}/gate answers the CLI's exit codes: 4 while a run runs, 3 once it failed or was cancelled."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app
from tests.support import definition


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def started(services, world) -> str:
    """A run that was started and that no worker executes: it stays running with nothing recorded."""
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid")
    experiment = services.app.create_experiment("gate", "", spec)
    run = services.app.start_run(experiment.id)
    assert services.wait_for(run.position, timeout=60)
    return str(run.id)


def gate(client: TestClient, run_id: str) -> dict:
    response = client.get(f"/api/v1/runs/{run_id}/gate")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_running_run_has_no_verdict_yet_and_answers_4(client, started):
    assert (gate(client, started)["status"], gate(client, started)["exit_code"]) == ("running", 4)


@pytest.mark.parametrize("end", ["cancel_run", "fail_run"])
def test_a_failed_or_cancelled_run_answers_3(client, services, started, end):
    written = getattr(services.app, end)(UUID(started), *([] if end == "cancel_run" else ["the target is gone"]))
    assert services.wait_for(written.position, timeout=60)
    answer = gate(client, started)
    assert (answer["status"], answer["exit_code"], answer["passed"]) == (
        {"cancel_run": "cancelled", "fail_run": "failed"}[end], 3, False)  # fmt: skip
