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
