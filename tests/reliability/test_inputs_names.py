"""Names and descriptions: a sane length, no control characters; tables print stored text inert (issue 9, 7)."""

from __future__ import annotations

import pytest

from agnt5_evals.cli.common import cell, table
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.text_rules import MAX_NAME_CHARS, check_description, check_name
from tests.cli.conftest import out
from tests.reliability.conftest import problem

ESC = "\x1b[31;1mred\x1b[0m"


@pytest.mark.parametrize(
    ("name", "message"),
    [("x" * 120_000, "at most 200 characters"), (f"a{ESC}", "control characters"), ("a\nb", "control characters"),
     (" ", "must not be empty")],
)  # fmt: skip
def test_bad_names_are_refused(name, message):
    with pytest.raises(Invalid) as caught:
        check_name(name)
    assert caught.value.field == "name" and message in caught.value.message


def test_names_and_descriptions_that_fit_are_kept():
    assert (
        check_name("  café \u2013 v2 [beta]  ") == "café \u2013 v2 [beta]"
        and len(check_name("n" * MAX_NAME_CHARS)) == 200
    )
    assert check_description("two\nlines\tand a tab") == "two\nlines\tand a tab"
    with pytest.raises(Invalid, match="control characters"):
        check_description(f"see {ESC}")
    with pytest.raises(Invalid, match="at most 10,000"):
        check_description("d" * 10_001)


def test_every_entity_refuses_a_bad_name_over_rest(client, world):
    experiment = {"name": ESC, "dataset_id": str(world["dataset"]), "dataset_version_id": str(world["version"]),
                  "deployment_id": str(world["good"]), "component_name": "support_agent",
                  "component_type": "agent", "scorers": ["json_valid"]}  # fmt: skip
    requests = [
        ("/api/v1/datasets", {"name": "x" * 120_000}, "name"),
        ("/api/v1/datasets", {"name": "ok", "description": ESC}, "description"),
        ("/api/v1/experiments", experiment, "name"),
        ("/api/v1/experiments", {**experiment, "name": "ok", "description": "d" * 10_001}, "description"),
        ("/api/v1/prompts", {"name": ESC, "model": "m", "messages": [{"role": "user", "content": "hi"}]}, "name"),
    ]
    for path, body, field in requests:
        assert problem(client.post(path, json=body))["field"] == field, (path, body)
    datasets = client.get("/api/v1/datasets").json()
    assert not any("\x1b" in d["name"] or len(d["name"]) > 200 for d in datasets)


def test_the_cli_refuses_a_bad_name(agnt5, agent_dir):
    refused = agnt5("deployments", "create", "--name", ESC, "--module", "good_agent", "--path", str(agent_dir), code=1)
    assert "--name: must not contain control characters" in refused.stderr
    ds = out(agnt5("datasets", "create", "--name", "[red]x[/]"))  # rich markup is text, not styling
    assert ds and "[red]x[/]" in agnt5("datasets", "list").stdout


def test_tables_escape_control_characters_of_stored_text(capsys):
    """Text recorded before these rules (or in a field without them) cannot drive the terminal either."""
    table([{"name": ESC, "note": "bell\x07 and\r return", "tag": "[bold]x[/bold]"}], ["name", "note", "tag"], ESC)
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed and "\r" not in printed
    assert "\\x1b[31;1mred" in printed and "bell\\x07" in printed and "[bold]x[/bold]" in printed
    assert cell(ESC) == "\\x1b[31;1mred\\x1b[0m" and cell("a\x9bb") == "a\\x9bb"
