"""The CLI spells a domain error's field as the command's flag; one exit-code table in help, docs and README."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path

import pytest
import typer

from agnt5_evals.cli.common import cli_name, error_line
from agnt5_evals.cli.main import app
from agnt5_evals.domain.errors import EXIT_CODES, Invalid, NotFound, exit_codes_text
from tests.cli.conftest import log_head
from tests.cli.test_mcp import mcp_session

ROOT = Path(__file__).resolve().parents[2]
MISSING = "00000000-0000-4000-8000-000000000000"


def command(*path: str):
    found = typer.main.get_command(app)
    for name in path:
        found = found.commands[name]
    return found


def create_args(page, **change: str) -> list[str]:
    flags = {"--name": "x", "--dataset-id": page["dataset"], "--dataset-version-id": page["version"],
             "--deployment-id": page["good"], "--component-name": "support_agent", "--component-type": "agent",
             "--builtin-scorer": "json_valid", **change}  # fmt: skip
    return ["experiments", "create", *(part for flag, value in flags.items() for part in (flag, value))]


@pytest.mark.parametrize(
    ("change", "line"),
    [
        ({"--target-type": "other"}, "error: --target-type: must be one of component, deployment, prompt, got 'other'"),
        ({"--dataset-id": MISSING}, f"error: --dataset-id: dataset {MISSING} not found"),
        ({"--dataset-version-id": MISSING}, f"error: --dataset-version-id: dataset version {MISSING} not found"),
        (
            {"--dataset-version-id": "nope"},
            "error: --dataset-version-id: 'nope' is neither a dataset version id nor a version number (like 3 or v3)",
        ),
        ({"--dataset-version-id": "v9"}, "error: --dataset-version-id: the dataset has no version v9"),
        ({"--deployment-id": "nope"}, "error: --deployment-id: no deployment 'nope' in this project"),
        ({"--config": "{oops"}, "error: --config: malformed JSON: unexpected character"),
        ({"--config": '{"passed_threshold": 2}'}, "error: --config: passed_threshold must be a number between 0 and 1"),
        ({"--builtin-scorer": "tool_called"}, "error: --builtin-scorer: tool_called needs config"),
        ({"--builtin-scorer": "nope"}, "error: --builtin-scorer: unknown scorer 'nope'"),
    ],
)
def test_experiment_errors_show_the_flag(agnt5, page, change, line):
    before = log_head()
    result = agnt5(*create_args(page, **change), code=1)
    [shown] = result.stderr.splitlines()
    assert shown.startswith(line), shown
    assert log_head() == before


def test_positional_arguments_and_composite_fields_keep_their_cli_names(agnt5, page):
    other = agnt5("datasets", "create", "--name", "other").stdout.strip()
    result = agnt5("datasets", "versions", "restore-draft", other, page["version"], code=1)
    assert result.stderr == f"error: VERSION_ID: version {page['version']} belongs to another dataset\n"
    draft = agnt5("datasets", "examples", "list", page["dataset"], "--version", "1", "--draft", code=1)
    assert draft.stderr == "error: --version, --draft: give one of them\n"


def test_cli_names_of_fields():
    create = command("experiments", "create")
    assert cli_name("target.type", create) == "--target-type"
    assert cli_name("target.component_name", create) == "--component-name"
    assert cli_name("scorers[1].config", create) == "--builtin-scorer"
    assert cli_name("config.passed_threshold", create) == "--config"
    assert cli_name("dataset_version_id", create) == "--dataset-version-id"
    assert cli_name("items", create) == "items"  # no flag: the field itself
    serve = command("worker", "serve")
    assert cli_name("module", serve) == "MODULE"  # an argument here, a flag of `deployments create`
    assert cli_name("module", command("deployments", "create")) == "--module"
    assert error_line(Invalid("give exactly one", field="module, url"), command("deployments", "create")) == (
        "--module, --url: give exactly one"
    )
    assert error_line(NotFound("run x not found")) == "run x not found"


def test_help_docs_and_readme_list_the_one_exit_code_table():
    sentence = exit_codes_text()
    assert sentence.startswith("Exit codes: 0 ok / gate passed, 1 usage or input error, 2 gate failed")
    flat = " ".join(typer.main.get_command(app).help.split())
    assert sentence in flat
    cli_md = (ROOT / "docs" / "cli.md").read_text()
    assert sentence in cli_md
    assert cli_md.count("Exit codes:") == 2  # the header and `agnt5 --help`, both from the table
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert sentence.removesuffix(".") in readme
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning}" in sentence
    quickstart = " ".join((ROOT / "docs" / "quickstart.md").read_text().split())
    for code, meaning in ((2, "gate failed"), (3, "run failed or cancelled"), (4, "wait timed out")):
        assert f"{code} {meaning}" in quickstart and EXIT_CODES[code].startswith(meaning)
    cli_sources = "\n".join(path.read_text() for path in (ROOT / "cli").glob("*.py"))
    assert not re.search(r"\b0 (ok|gate passed|passed)\b", cli_sources), "an exit-code table written by hand in cli/"


def test_mcp_tool_errors_carry_message_code_and_field(agnt5, page, tmp_path):
    missing = str(uuid.uuid4())

    async def main() -> None:
        async with mcp_session(tmp_path / "mcp.err") as session:
            result = await session.call_tool("get_experiment_run_summary", {"run_id": "not-a-uuid"})
            assert result.is_error and result.structured_content == {
                "message": "'not-a-uuid' is not a valid id (expected a UUID)", "code": "invalid", "field": "run_id"
            }  # fmt: skip
            assert result.content[0].text == "run_id: 'not-a-uuid' is not a valid id (expected a UUID)"
            gone = await session.call_tool("get_experiment_run_summary", {"run_id": missing})
            assert gone.is_error and gone.structured_content["code"] == "not_found"
            fine = await session.call_tool("list_eval_datasets", {})
            assert not fine.is_error and json.loads(fine.content[0].text)[0]["id"] == page["dataset"]

    asyncio.run(main())
