"""The remote CLI: with AGNT5_API_URL set, commands go through the server's project API, never the local store."""

from __future__ import annotations

import socket

import pytest

from agnt5_evals.domain.errors import EXIT_USAGE
from tests.cli.conftest import data, out


def test_a_remote_command_writes_to_the_servers_store_not_the_local_one(agnt5, api_server, monkeypatch, tmp_path):
    monkeypatch.setenv("AGNT5_API_URL", api_server)
    monkeypatch.setenv("AGNT5_HOME", str(tmp_path / "elsewhere"))  # the server keeps its store; the CLI opens none
    monkeypatch.delenv("AGNT5_DATABASE_URL", raising=False)
    dataset = out(agnt5("datasets", "create", "--name", "through-the-server"))
    assert not (tmp_path / "elsewhere").exists()
    listed = data(agnt5("datasets", "list", "--format", "json"))
    assert [row["id"] for row in listed] == [dataset]
    monkeypatch.delenv("AGNT5_API_URL")
    assert data(agnt5("datasets", "list", "--format", "json")) == []  # the local store is another, empty one


def test_a_server_error_prints_the_same_line_and_exit_code_as_locally(agnt5, api_server, monkeypatch):
    missing = "00000000-0000-4000-8000-000000000000"
    local = agnt5("datasets", "show", missing, code=EXIT_USAGE)
    monkeypatch.setenv("AGNT5_API_URL", api_server)
    remote = agnt5("datasets", "show", missing, code=EXIT_USAGE)
    assert remote.stderr == local.stderr and "not found" in remote.stderr
    invalid = agnt5("datasets", "create", "--name", "", code=EXIT_USAGE)
    assert invalid.stderr == "error: --name: must not be empty\n"


def test_an_unreachable_server_is_one_clear_line(agnt5, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AGNT5_API_URL", f"http://127.0.0.1:{port}")
    result = agnt5("datasets", "list", code=EXIT_USAGE)
    assert "cannot reach the server" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("suffix", ["", "/", "/api/v1"])
def test_the_api_url_may_name_the_server_or_its_api(agnt5, api_server, monkeypatch, suffix):
    monkeypatch.setenv("AGNT5_API_URL", api_server + suffix)
    dataset = out(agnt5("datasets", "create", "--name", "any-form"))
    assert data(agnt5("datasets", "show", dataset, "--format", "json"))["name"] == "any-form"


def test_a_module_deployment_is_snapshotted_here_and_uploaded(agnt5, api_server, agent_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("AGNT5_API_URL", api_server)
    monkeypatch.setenv("AGNT5_HOME", str(tmp_path / "client"))  # the client's own home stays untouched
    monkeypatch.delenv("AGNT5_DATABASE_URL", raising=False)
    created = data(agnt5("deployments", "create", "--name", "good", "--module", "good_agent", "--path",
                         str(agent_dir), "--format", "json"))  # fmt: skip
    assert created["bundle_digest"].startswith("sha256:") and created["path"] == str(agent_dir)
    assert [c["name"] for c in created["components"]] == ["support_agent", "echo", "slow"]
    shown = data(agnt5("deployments", "show", created["id"], "--format", "json"))
    assert sorted(f["path"] for f in shown["files"]) == ["good_agent.py", "regressed_agent.py"]
    assert not (tmp_path / "client").exists()
    editable = agnt5("deployments", "create", "--name", "live", "--module", "good_agent", "--path", str(agent_dir),
                     "--editable", code=EXIT_USAGE)  # fmt: skip
    assert editable.stderr.startswith("error: --editable: a server cannot run the live files of this machine")


def test_maintenance_commands_refuse_in_one_line_through_a_server(agnt5, api_server, monkeypatch):
    monkeypatch.setenv("AGNT5_API_URL", api_server)
    for command in (
        ("projections", "rebuild"),
        ("audit", "check"),
        ("worker", "--once"),
        ("experiments", "runs", "replay", "00000000-0000-4000-8000-000000000000"),
    ):
        refused = agnt5(*command, code=EXIT_USAGE)
        assert refused.stderr == (
            "error: this command works on this machine's store only: unset AGNT5_API_URL to run it here "
            "(or run it on the server)\n"
        ), command


def test_projects_and_keys_through_the_server(agnt5, api_server, monkeypatch):
    monkeypatch.setenv("AGNT5_API_URL", api_server)
    made = data(agnt5("projects", "create", "--id", "team-r", "--name", "Team R", "--format", "json"))
    assert made["id"] == "team-r"
    assert [row["id"] for row in data(agnt5("projects", "list", "--format", "json"))] == ["default", "team-r"]
    key = data(agnt5("keys", "create", "--project", "team-r", "--scope", "read", "--format", "json"))
    assert key["key"].startswith("agnt5_sk_") and key["project_id"] == "team-r"
    listed = data(agnt5("keys", "list", "--project", "team-r", "--format", "json"))
    assert [row["id"] for row in listed] == [key["id"]] and "key" not in listed[0]
    monkeypatch.setenv("AGNT5_API_KEY", key["key"])  # a read key of team-r: it may read, in its project only
    assert data(agnt5("--project-id", "team-r", "datasets", "list", "--format", "json")) == []
    refused = agnt5("--project-id", "team-r", "datasets", "create", "--name", "x", code=EXIT_USAGE)
    assert refused.stderr.startswith("error: this route needs a key of scope write")
    other = agnt5("datasets", "list", code=EXIT_USAGE)  # the default project: not this key's
    assert "project default not found" in other.stderr
