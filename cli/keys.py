"""``agnt5 keys``: make, list and revoke the API keys a server accepts (the local CLI acts as the store's owner)."""

from __future__ import annotations

from typing import Annotated

import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, note, uuid_arg
from agnt5_evals.cli.gateway import gateway
from agnt5_evals.domain.tenancy import check_project_id

app = typer.Typer(help="API keys of a project: create (shown once), list, revoke.", no_args_is_help=True)

COLUMNS = ["id", "name", "scope", "project_id", "created_at", "revoked"]
ProjectOption = Annotated[str, typer.Option("--project", help="The project the key reaches (e.g. default).")]


@app.command("create")
def create(
    project: ProjectOption,
    scope: Annotated[str, typer.Option("--scope", help="read (queries), write (+ datasets, runs) or admin (+ code).")],
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. ci.")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Make an API key and print it (table: the key alone on stdout). It is shown this once: the store keeps a hash."""
    check_project_id(project, "--project")
    with gateway() as gw:
        row = gw.create_key(project, scope, name)
    if fmt is Format.table:
        note(f"Created {row['scope']} key {row['id']} of project {row['project_id']}; it is shown only this once")
        typer.echo(row["key"])
    else:
        emit(row, fmt)


@app.command("list")
def list_(project: ProjectOption, fmt: FormatOption = Format.table) -> None:
    """List a project's keys, revoked ones too (never a secret)."""
    check_project_id(project, "--project")
    with gateway() as gw:
        rows = gw.keys(project)
    emit(rows, fmt, COLUMNS)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (keys list), not its secret.")],
    fmt: FormatOption = Format.table,
) -> None:
    """Revoke a key: every request with it is refused from now on."""
    kid = str(uuid_arg(key_id, "key_id"))
    with gateway() as gw:
        row = gw.revoke_key(kid)
    if fmt is Format.table:
        typer.echo(f"Revoked key {row['id']} of project {row['project_id']}")
    else:
        emit(row, fmt)
