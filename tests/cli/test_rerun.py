"""`experiments runs rerun`: a new run of what a run ran (experiment version, dataset version, config with its
overrides, deployment snapshot), linked to its source; a deterministic component gives no difference."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.api.main import create_app
from agnt5_evals.domain.runs import Run
from tests.cli.conftest import Agnt5, data, log_head, out
from tests.cli.test_immutable_deployments import experiment, project

pytestmark = pytest.mark.both_modes


def test_a_rerun_runs_the_same_versions_config_and_code_and_compares_equal(agnt5: Agnt5, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    deployment = out(agnt5("deployments", "create", "--name", "d", "--module", "app", "--path", str(root)))
    exp = experiment(agnt5, deployment)
    source = data(agnt5("experiments", "run", exp, "--config", '{"concurrency": 2}', "--wait", "--format", "json"))
    agnt5("experiments", "update", exp, "--builtin-scorer", "json_valid")  # the experiment moves on; the rerun not
    project(root, verdict="bad")  # nor do the files: the deployment is a snapshot
    rerun = data(agnt5("experiments", "runs", "rerun", source["id"], "--wait", "--format", "json"))
    assert rerun["source_run_id"] == source["id"] and rerun["id"] != source["id"]
    assert rerun["name"] == f"{source['name']}-rerun" and rerun["status"] == "completed"
    for key in ("experiment_version_id", "dataset_version_id", "deployment_id", "code_digest", "passed_items"):
        assert rerun[key] == source[key], key
    assert [s["scorer"] for s in rerun["scorers"]] == [s["scorer"] for s in source["scorers"]]
    with build() as svc:
        spec = svc.app.get(Run, UUID(rerun["id"]), "run").spec
    assert spec["config"]["concurrency"] == 2 and spec["config_overrides"] == {"concurrency": 2}
    compared = data(agnt5("experiments", "runs", "compare", source["id"], rerun["id"], "--format", "json"))
    assert compared["same_dataset_version"] is True
    assert compared["newly_failing"] == [] and compared["newly_passing"] == []
    assert all(s["delta"] == 0 for s in compared["scorers"])
    assert "warnings" not in compared or compared["warnings"] == []


def test_a_rerun_of_an_archived_deployment_or_an_unknown_run_writes_nothing(agnt5: Agnt5, tmp_path: Path) -> None:
    deployment = out(agnt5("deployments", "create", "--name", "d", "--module", "app", "--path",
                           str(project(tmp_path / "proj"))))  # fmt: skip
    source = data(agnt5("experiments", "run", experiment(agnt5, deployment), "--wait", "--format", "json"))
    agnt5("deployments", "archive", deployment)
    before = log_head()
    refused = agnt5("experiments", "runs", "rerun", source["id"], code=1)
    assert "is archived" in refused.stderr and log_head() == before
    missing = agnt5("experiments", "runs", "rerun", "6e0c1a5e-0000-4000-8000-000000000000", code=1)
    assert "not found" in missing.stderr and log_head() == before


def test_rerun_over_rest(agnt5: Agnt5, tmp_path: Path) -> None:
    deployment = out(agnt5("deployments", "create", "--name", "d", "--module", "app", "--path",
                           str(project(tmp_path / "proj"))))  # fmt: skip
    source = data(agnt5("experiments", "run", experiment(agnt5, deployment), "--wait", "--format", "json"))
    with TestClient(create_app()) as client:
        started = client.post(f"/api/v1/runs/{source['id']}/rerun", json={"name": "again"})
        assert started.status_code == 202, started.text
        assert started.json()["source_run_id"] == source["id"] and started.json()["name"] == "again"
        assert client.post(f"/api/v1/runs/{source['id']}/rerun").status_code == 202  # no body: default name
        assert client.post(f"/api/v1/runs/{source['id']}/rerun", json={"nme": "x"}).status_code == 422
        assert client.post("/api/v1/runs/nope/rerun").status_code == 422
        assert client.post("/api/v1/runs/6e0c1a5e-0000-4000-8000-000000000000/rerun").status_code == 404
