"""Render the CLI reference (docs/cli.md) from the --help text of every command."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from agnt5_evals.cli.main import app
from agnt5_evals.domain.errors import exit_codes_text

HEADER = f"""# CLI reference

Generated from `--help` by `scripts/gen-cli-docs`; do not edit by hand.

Every command takes `--format table|json|jsonl` where it prints data.
{exit_codes_text()}

Names: every argument or option that takes the id of a dataset, experiment, deployment, scorer, prompt or run
(`DATASET_ID`, `--deployment-id`, `RUN_ID`, `--scorer-id` ...) takes its name too, looked up in the current project
(a run's name across the project's experiments); a version under its dataset, experiment or prompt takes its
number (`3` or `v3`: `datasets versions export orders v3`, `experiments create --dataset-id orders
--dataset-version-id 2`, `experiments run EXP --experiment-version-id 1`). A value that parses as a UUID is an id.
An unknown name exits 1 naming the argument; an ambiguous one exits 1 listing each candidate's id and created_at
(a run's experiment too): give the id. Ids only: run items, scores, rescores, keys and `experiments update
--dataset-version-id`.
"""


def _paths(command: Any, prefix: list[str]) -> list[list[str]]:
    paths = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths.extend(_paths(sub, [*prefix, name]))
    return paths


def render() -> str:
    root = typer.main.get_command(app)
    runner = CliRunner()
    parts = [HEADER]
    for path in _paths(root, []):
        result = runner.invoke(app, [*path, "--help"], prog_name="agnt5", env={"COLUMNS": "110", "TERM": "dumb"})
        title = " ".join(["agnt5", *path])
        text = "\n".join(line.rstrip() for line in result.stdout.strip("\n").splitlines()).strip("\n")
        parts.append(f"## `{title}`\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
