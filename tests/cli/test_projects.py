"""``agnt5 projects`` and the global ``--project-id`` (before or after the command, or ``AGNT5_PROJECT_ID``): each
command acts in one project, sees only its resources and creates them there; a store written before projects is
the default project's."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.domain.model import Dataset
from agnt5_evals.domain.runs import Run
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, project_scope
from tests.cli.conftest import Agnt5, data, out
from tests.cli.test_store_compatibility import _install_fixture

pytestmark = pytest.mark.local_only  # projects are the server owner's commands


def test_projects_create_and_list(agnt5: Agnt5) -> None:
    assert out(agnt5("projects", "create", "--id", "team-a", "--name", "Team A")) == "team-a"
    generated = data(agnt5("projects", "create", "--name", "Generated", "--format", "json"))
    rows = data(agnt5("projects", "list", "--format", "json"))
    assert [(r["id"], r["name"]) for r in rows] == [
        (DEFAULT_PROJECT, "Default project"), ("team-a", "Team A"), (generated["id"], "Generated")]  # fmt: skip
    again = agnt5("projects", "create", "--id", "team-a", "--name", "Again", code=1)
    assert again.stderr.strip() == "error: --id: project team-a already exists"
    bad = agnt5("projects", "create", "--id", "Team A", "--name", "x", code=1)
    assert bad.stderr.startswith("error: --id: must be a project id")


def test_project_id_before_or_after_the_command_or_from_the_environment(
    agnt5: Agnt5, monkeypatch: pytest.MonkeyPatch
) -> None:
    agnt5("projects", "create", "--id", "team-a", "--name", "Team A")
    in_a = out(agnt5("--project-id", "team-a", "datasets", "create", "--name", "in-a"))
    in_default = out(agnt5("datasets", "create", "--name", "in-default"))

    def names(*args: str) -> list[str]:
        return [row["name"] for row in data(agnt5(*args, "--format", "json"))]

    assert names("datasets", "list") == ["in-default"]
    assert names("--project-id", "team-a", "datasets", "list") == ["in-a"]
    assert names("datasets", "list", "--project-id", "team-a") == ["in-a"]
    assert names("datasets", "list", "--project-id=team-a") == ["in-a"]
    agnt5("datasets", "show", in_a, code=1)
    assert agnt5("datasets", "show", in_default, "--project-id", "team-a", code=1).stderr.strip() == (
        f"error: dataset {in_default} not found"
    )
    monkeypatch.setenv("AGNT5_PROJECT_ID", "team-a")
    assert names("datasets", "list") == ["in-a"]
    assert names("datasets", "list", "--project-id", DEFAULT_PROJECT) == ["in-default"]


def test_a_command_in_an_unknown_or_malformed_project_is_refused(agnt5: Agnt5) -> None:
    unknown = agnt5("--project-id", "nope", "datasets", "create", "--name", "x", code=1)
    assert unknown.stderr.strip() == "error: --project-id: project nope not found"
    assert data(agnt5("datasets", "list", "--project-id", "nope", "--format", "json")) == []
    bad = agnt5("datasets", "list", "--project-id", "No Such", code=1)
    assert bad.stderr.startswith("error: --project-id: must be a project id")


def test_a_run_started_in_a_project_executes_in_its_worker(agnt5: Agnt5, agent_dir: Path) -> None:
    agnt5("projects", "create", "--id", "team-a", "--name", "Team A")

    def a(*args: str, **kwargs: str) -> str:
        return out(agnt5(*args, "--project-id", "team-a", **kwargs))

    ds = a("datasets", "create", "--name", "orders")
    a("datasets", "upload", ds, input="\n".join(json.dumps({"input": {"order_id": n}}) for n in range(1, 4)))
    version = a("datasets", "publish", ds)
    good = a("deployments", "create", "--name", "good", "--module", "good_agent", "--path", str(agent_dir))
    experiment = a(
        "experiments", "create", "--name", "exp", "--dataset-id", ds, "--dataset-version-id", version,
        "--target-type", "component", "--deployment-id", good, "--component-name", "support_agent",
        "--component-type", "agent", "--builtin-scorer", "json_valid",
    )  # fmt: skip
    run = data(agnt5("experiments", "run", experiment, "--wait", "--format", "json", "--project-id", "team-a"))
    assert (run["status"], run["done_items"]) == ("completed", 3)
    agnt5("experiments", "runs", "show", run["id"], code=1)  # not the default project's
    events = [json.loads(line) for line in agnt5("audit", "events", "--format", "jsonl").stdout.splitlines()]
    assert events == []  # nothing in the default project
    mine = agnt5("audit", "events", "--run-id", run["id"], "--format", "jsonl", "--project-id", "team-a").stdout
    assert run["id"] in mine


def test_a_store_written_before_projects_is_the_default_projects(agnt5: Agnt5, store: str, isolated_home: Path) -> None:
    """Its events carry no project (class version 1 or 2): the upcasters put each resource in ``default``."""
    _install_fixture(store, isolated_home)
    agnt5("projections", "catch-up")
    agnt5("projects", "create", "--id", "team-a", "--name", "Team A")
    old = data(agnt5("datasets", "list", "--format", "json"))
    assert old and data(agnt5("datasets", "list", "--format", "json", "--project-id", "team-a")) == []
    assert data(agnt5("experiments", "list", "--format", "json"))
    with build() as svc, project_scope(DEFAULT_PROJECT):
        dataset = svc.app.get(Dataset, UUID(old[0]["id"]), "dataset")
        assert dataset.project_id == DEFAULT_PROJECT
        stored = svc.app.recorder.select_events(dataset.id, limit=1)[0]
        assert b"project_id" not in stored.state  # as written: upcast when read
        run_ids = {str(n.originator_id) for n in svc.app.recorder.select_notifications(1, 10_000)
                   if n.topic.endswith("Run.Started")}  # fmt: skip
        assert run_ids
        for run_id in run_ids:
            assert svc.app.get(Run, UUID(run_id), "run").project_id == DEFAULT_PROJECT


def test_the_mcp_server_acts_in_its_project(agnt5: Agnt5, tmp_path: Path) -> None:
    """``agnt5 mcp --project-id P``: every tool call (whichever thread or task serves it) is in P."""
    from tests.cli.test_mcp import Tools, _serve

    agnt5("projects", "create", "--id", "team-a", "--name", "Team A")
    in_a = out(agnt5("datasets", "create", "--name", "in-a", "--project-id", "team-a"))
    in_default = out(agnt5("datasets", "create", "--name", "in-default"))

    async def body(tool: Tools) -> None:
        assert [d["id"] for d in await tool("list_eval_datasets")] == [in_a]
        assert (await tool("get_eval_dataset", dataset_id=in_a))["id"] == in_a
        assert "not found" in await tool.error("get_eval_dataset", dataset_id=in_default)

    _serve(tmp_path, body, "--project-id", "team-a")
