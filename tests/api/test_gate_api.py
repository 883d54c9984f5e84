"""GET /runs/{id}/gate answers the CLI's exit codes: 4 while a run runs, 3 once it failed or was cancelled."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.api.main import create_app
from tests.support import definition, execute


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


def experiment_body(world, **change) -> dict:
    return {"name": "gated", "dataset_id": str(world["dataset"]), "dataset_version_id": str(world["version"]),
            "deployment_id": str(world["good"]), "component_name": "support_agent", "component_type": "agent",
            "scorers": ["json_valid"], **change}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"config": {"passed_treshold": 1}}, "config.passed_treshold",
         "unknown config key 'passed_treshold': did you mean passed_threshold?"),
        ({"gate_config": {"min_passrate": 1}}, "gate_config.min_passrate",
         "unknown gate rule 'min_passrate': did you mean min_pass_rate?"),
        ({"gate_config": {"scorers": {"json_valid": {"min_pass_rat": 1}}}},
         "gate_config.scorers.json_valid.min_pass_rat",
         "unknown scorer rule 'min_pass_rat': did you mean min_pass_rate?"),
        ({"gate_config": {"scorers": {"similarity": {"min_mean_score": 0.8}}}},
         "config.gate_config.scorers.similarity",
         "no scorer 'similarity' in this experiment: the keys are json_valid"),
        ({"config": {"gate": {"baseline": "yesterday"}}}, "config.gate.baseline",
         "must be a run id or \"last_passed\", got 'yesterday'"),
    ],
)  # fmt: skip
def test_an_unknown_or_bad_gate_key_is_a_422_naming_it(client, services, world, change, field, message):
    before = services.app.recorder.max_notification_id()
    response = client.post("/api/v1/experiments", json=experiment_body(world, **change))
    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["field"], body["message"]) == (field, message)
    assert services.app.recorder.max_notification_id() == before
    eid = client.post("/api/v1/experiments", json=experiment_body(world)).json()["id"]
    patched = client.patch(f"/api/v1/experiments/{eid}", json={"config": {"concurency": 2}})
    assert (patched.status_code, patched.json()["field"]) == (422, "config.concurency")


def test_the_gate_of_a_finished_run_lists_its_rules(client, services, world):
    config = {"passed_threshold": 0, "gate_config": {"scorers": {"json_valid": {"min_pass_rate": 0.9}}}}
    experiment = services.app.create_experiment(
        "gate", "", definition(world["dataset"], world["version"], world["bad"], "json_valid", **config)
    )
    run_id = services.app.start_run(experiment.id).id
    execute(services, run_id)
    services.catch_up()
    answer = gate(client, str(run_id))
    assert (answer["passed"], answer["exit_code"]) == (False, 2)
    assert [(r["rule"], r["scorer"], r["observed"], r["threshold"], r["passed"], r["message"])
            for r in answer["rules"]] == [
        ("min_pass_rate", None, 0.5, 0.0, True, "pass rate 50.0% >= passed_threshold 0"),
        ("scorer_min_pass_rate", "json_valid", 0.5, 0.9, False, "json_valid pass rate 50.0% < min_pass_rate 90.0%"),
    ]  # fmt: skip
    summary = client.get(f"/api/v1/runs/{run_id}").json()
    assert summary["gate"]["rules"] == answer["rules"] and summary["passed"] is False
