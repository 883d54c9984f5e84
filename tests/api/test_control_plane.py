"""The public AGNT5 SDK's control-plane client (``agnt5==0.14.5``, unchanged) against a running server, on each
store: the improvement loop's create payload (no scorers, gate_config, free config), a run started and polled
to a terminal status, ``passed`` True for a passing component and False for a failing one, and our errors'
``message`` and ``code`` coming through."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agnt5_evals.services import projects
from agnt5_evals.services.keys import create_key
from tests.api.live import live_server
from tests.support import wait_until

control_plane = pytest.importorskip("agnt5.improvement.control_plane")


@pytest.fixture
def base_url(services, world) -> Iterator[str]:
    app = services.app
    dataset = app.create_dataset("echoes")
    app.add_items(dataset.id, [{"input": {"order_id": n}, "expected_output": {"order_id": n}} for n in (1, 2, 3)])
    world["echoes"], world["echoes_version"] = dataset.id, app.publish(dataset.id).id
    with live_server() as url:
        yield url


@pytest.fixture
def client(base_url, services) -> Any:
    key = create_key(services, "default", "write", "control plane")["key"]
    return control_plane.ImprovementControlPlaneClient(base_url=base_url, project_id="default", token=key)


def attempt_payload(world: dict, component: str, component_type: str, gate: dict | None = None) -> dict:
    """The payload ``_run_attempt_eval`` builds (agnt5/improvement/control_plane.py), field for field."""
    return {
        "name": "Greets wrongly attempt eval",
        "description": "Improvement attempt att-1 for quality case qc-1.",
        "type": "evaluation",
        "dataset_id": str(world["echoes"]),
        "dataset_version_id": str(world["echoes_version"]),
        "target_type": "component",
        "deployment_id": str(world["good"]),
        "execution_mode": "dev_worker",
        "component_name": component,
        "component_type": component_type,
        "repetitions": 1,
        "config": {
            "source": "agnt5_sdk_self_improvement_loop",
            "quality_case_id": "qc-1",
            "improvement_attempt_id": "att-1",
            "behavior_topic_id": "topic-1",
            "baseline_deployment_id": str(world["bad"]),
            "candidate_deployment_id": str(world["good"]),
        },
        "gate_config": gate or {"min_pass_rate": 1, "max_failed_items": 0},
    }


def run_to_end(client, world: dict, component: str, component_type: str, gate: dict | None = None) -> dict:
    experiment = client.create_experiment(attempt_payload(world, component, component_type, gate))
    run = client.create_experiment_run(experiment["id"], {"name": "Greets wrongly attempt check",
                                                          "deployment_id": str(world["good"])})  # fmt: skip
    terminal = ("completed", "failed", "cancelled")

    def finished() -> dict | None:
        current = client.get_experiment_run(experiment["id"], run["id"])
        return current if str(current["status"]).lower() in terminal else None

    return {"experiment": experiment, **wait_until(finished, message=f"run {run['id']} did not finish")}


def test_a_passing_component_passes_and_the_payload_is_kept(client, world):
    result = run_to_end(client, world, "echo", "function")
    assert result["passed"] is True and result["status"] == "completed"
    assert (result["pass_rate"], result["failed_items"], result["total_items"], result["total_run_items"]) == (
        1.0, 0, 3, 3)  # fmt: skip
    experiment = result["experiment"]
    assert experiment["notes"] and "exact_match" in experiment["notes"][0]
    config = experiment["definition"]["config"]
    assert config["quality_case_id"] == "qc-1" and config["source"] == "agnt5_sdk_self_improvement_loop"
    assert config["gate_config"] == {"min_pass_rate": 1, "max_failed_items": 0}
    assert config["execution_mode"] == "dev_worker" and config["repetitions"] == 1
    assert [s["name"] for s in experiment["definition"]["scorers"]] == ["exact_match"]
    gate = {key: value for key, value in result["gate"].items() if key != "rules"}
    assert gate == {"passed_threshold": 1.0, "max_failed_items": 0, "passed": True}
    assert [(r["rule"], r["passed"]) for r in result["gate"]["rules"]] == [("min_pass_rate", True),
                                                                          ("max_failed_items", True)]  # fmt: skip


def test_a_failing_component_does_not_pass(client, world):
    result = run_to_end(client, world, "support_agent", "agent")
    assert result["passed"] is False and result["status"] == "completed"
    assert result["pass_rate"] == 0.0 and result["failed_items"] == 3


def test_max_failed_items_is_honoured_next_to_the_pass_rate(client, world):
    result = run_to_end(client, world, "support_agent", "agent", {"min_pass_rate": 0, "max_failed_items": 3})
    assert result["passed"] is True and result["gate"]["max_failed_items"] == 3
    strict = run_to_end(client, world, "support_agent", "agent", {"min_pass_rate": 0, "max_failed_items": 2})
    assert strict["passed"] is False


def test_a_run_reads_as_running_with_passed_null_until_it_ends(client, world):
    experiment = client.create_experiment(attempt_payload(world, "echo", "function"))
    run = client.create_experiment_run(experiment["id"])  # the SDK's empty payload
    assert run["passed"] is None or run["status"] != "running"
    assert client.get_experiment_run(experiment["id"], run["id"])["total_run_items"] == 3


def test_errors_come_through_with_our_message_and_code(client, world):
    with pytest.raises(control_plane.ImprovementControlPlaneError) as missing:
        client.get_experiment_run(str(world["echoes"]), "00000000-0000-4000-8000-000000000000")
    assert missing.value.status_code == 404 and missing.value.code == "not_found"
    assert str(missing.value).startswith("run 00000000-0000-4000-8000-000000000000 not found")
    with pytest.raises(control_plane.ImprovementControlPlaneError) as bad_gate:
        client.create_experiment(attempt_payload(world, "echo", "function", {"min_pass_rate": 2}))
    assert bad_gate.value.status_code == 422 and bad_gate.value.code == "invalid"
    assert "less than or equal to 1" in str(bad_gate.value)


def test_no_scorers_and_no_expected_outputs_is_refused_naming_scorers(client, services, world):
    dataset = services.app.create_dataset("bare")
    services.app.add_items(dataset.id, [{"input": {"order_id": 1}}])
    version = services.app.publish(dataset.id).id
    payload = {**attempt_payload(world, "echo", "function"), "dataset_id": str(dataset.id),
               "dataset_version_id": str(version)}  # fmt: skip
    with pytest.raises(control_plane.ImprovementControlPlaneError) as refused:
        client.create_experiment(payload)
    assert refused.value.status_code == 422 and refused.value.code == "invalid"
    assert "1 of 1 have no expected output" in str(refused.value)


def test_keys_are_checked_a_read_key_cannot_create_and_another_projects_key_finds_nothing(base_url, services, world):
    projects.create_project(services, "Other", "other")

    def as_key(project: str, scope: str) -> Any:
        token = create_key(services, project, scope)["key"]
        return control_plane.ImprovementControlPlaneClient(base_url=base_url, project_id="default", token=token)

    with pytest.raises(control_plane.ImprovementControlPlaneError) as read_only:
        as_key("default", "read").create_experiment(attempt_payload(world, "echo", "function"))
    assert read_only.value.status_code == 403 and read_only.value.code == "forbidden"
    with pytest.raises(control_plane.ImprovementControlPlaneError) as other:
        as_key("other", "admin").create_experiment(attempt_payload(world, "echo", "function"))
    assert other.value.status_code == 404 and str(other.value) == "project default not found"
    anonymous = control_plane.ImprovementControlPlaneClient(base_url=base_url, project_id="default")
    with pytest.raises(control_plane.ImprovementControlPlaneError) as refused:
        anonymous.create_experiment(attempt_payload(world, "echo", "function"))
    assert refused.value.status_code == 401 and refused.value.code == "unauthorized"
