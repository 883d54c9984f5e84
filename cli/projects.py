"""``agnt5 projects``: create and list projects. Every resource belongs to one; ``default`` always exists, and
``agnt5 --project-id ID ...`` (or ``AGNT5_PROJECT_ID``) chooses the project a command acts in."""

from __future__ import annotations

from typing import Annotated

import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, print_created
from agnt5_evals.cli.gateway import gateway

app = typer.Typer(
    help="Projects: every dataset, deployment, experiment, run and score belongs to one (default unless "
    "--project-id or AGNT5_PROJECT_ID names another).",
    no_args_is_help=True,
)

COLUMNS = ["id", "name", "created_at"]


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="The project's name.")],
    project_id: Annotated[
        str | None,
        typer.Option("--id", help="The project id: lowercase letters, digits, - and _ (default: a new UUID)."),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Create a project; prints its id (use it with --project-id)."""
    with gateway() as gw:
        row = gw.create_project(name, project_id or "")
    print_created(fmt, row, f"created project {row['id']} ({row['name']})")


@app.command("list")
def list_projects(fmt: FormatOption = Format.table) -> None:
    """Every project, default first."""
    with gateway() as gw:
        rows = gw.projects()
    emit(rows, fmt, COLUMNS, title="Projects")
