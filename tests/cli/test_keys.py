"""``agnt5 keys``: create (the key shown once), list (never a secret), revoke; bad input named by its flag."""

from __future__ import annotations

import pytest

from agnt5_evals.adapters.bootstrap import build
from agnt5_evals.services import keys
from tests.cli.conftest import data, out

pytestmark = pytest.mark.local_only  # keys are the server owner's commands (a key manages keys over REST)


def test_create_prints_the_key_once_and_list_never_shows_it(agnt5):
    made = agnt5("keys", "create", "--project", "default", "--scope", "write", "--name", "ci")
    secret = out(made)
    assert secret.startswith("agnt5_sk_") and "\n" not in secret
    assert "shown only this once" in made.stderr and secret not in made.stderr
    listed = agnt5("keys", "list", "--project", "default", "--format", "json")
    (row,) = data(listed)
    assert row["name"] == "ci" and row["scope"] == "write" and row["revoked"] is False
    assert secret not in listed.stdout
    assert secret not in agnt5("keys", "list", "--project", "default").stdout
    with build() as svc:
        assert keys.authenticate(svc, secret).scope == "write"
        raw = b"".join(bytes(n.state) for n in svc.app.recorder.select_notifications(start=1, limit=1000))
    assert secret[41:].encode() not in raw


def test_json_create_gives_the_key_and_its_record(agnt5):
    agnt5("projects", "create", "--id", "team-a", "--name", "Team A")
    row = data(agnt5("keys", "create", "--project", "team-a", "--scope", "admin", "--format", "json"))
    assert set(row) == {"id", "key", "project_id", "scope", "name", "created_at"}
    assert row["project_id"] == "team-a" and row["key"].startswith("agnt5_sk_" + row["id"].replace("-", ""))
    assert data(agnt5("keys", "list", "--project", "default", "--format", "json")) == []


def test_revoke_refuses_the_key_from_then_on(agnt5):
    agnt5("projects", "create", "--id", "team-b", "--name", "Team B")
    row = data(agnt5("keys", "create", "--project", "team-b", "--scope", "read", "--format", "json"))
    assert out(agnt5("keys", "revoke", row["id"])) == f"Revoked key {row['id']} of project team-b"
    with build() as svc:
        refused = False
        try:
            keys.authenticate(svc, row["key"])
        except Exception as exc:  # Unauthorized, with the neutral message
            refused = str(exc) == "invalid API key"
    assert refused
    again = data(agnt5("keys", "revoke", row["id"], "--format", "json"))
    assert again["revoked"] is True
    assert data(agnt5("keys", "list", "--project", "team-b", "--format", "json"))[0]["revoked"] is True


def test_bad_input_is_one_line_naming_the_flag(agnt5):
    scope = agnt5("keys", "create", "--project", "default", "--scope", "root", code=1)
    assert scope.stderr.startswith("error: --scope: must be one of read, write, admin")
    project = agnt5("keys", "create", "--project", "Not A Project", "--scope", "read", code=1)
    assert project.stderr.startswith("error: --project: must be a project id")
    name = agnt5("keys", "create", "--project", "default", "--scope", "read", "--name", "n" * 201, code=1)
    assert name.stderr.startswith("error: --name: must be at most 200 characters")
    unknown = agnt5("keys", "revoke", "00000000-0000-4000-8000-000000000000", code=1)
    assert "not found" in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1
    assert agnt5("keys", "revoke", "nope", code=1).stderr.startswith("error: KEY_ID")


def test_a_long_dataset_name_is_refused_by_the_cli_too(agnt5):
    refused = agnt5("datasets", "create", "--name", "d" * 5000, code=1)
    assert refused.stderr.startswith("error: --name: must be at most 200 characters")
