"""``agnt5 deployments``: register the components of a Python module as an immutable deployment."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cli.common import Format, FormatOption, emit, note, services
from runner.components import discover

app = typer.Typer(help="Register deployments whose components experiments run against.", no_args_is_help=True)

COLUMNS = ["id", "name", "kind", "module", "components", "created_at"]


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Deployment name, e.g. support-agent@v2.")],
    module: Annotated[str, typer.Option("--module", help="PACKAGE.MODULE defining @component callables.")],
    path: Annotated[str, typer.Option("--path", help="Directory to import the module from.")] = ".",
    fmt: FormatOption = Format.table,
) -> None:
    """Register a deployment of a module's components; prints its id."""
    root = os.path.abspath(path)
    components = discover(module, root)
    with services(catch_up=False) as svc:
        written = svc.app.create_deployment(name, module, root, components)
        svc.wait_for(written.position)
        from projections import queries

        row = queries.deployment(svc.view, str(written.id))
    if fmt is Format.table:
        listed = ", ".join(f"{c['name']} ({c['type']})" for c in components)
        note(f"Created deployment {name!r} of {module}: {listed}")
        typer.echo(row["id"])
    else:
        emit(row, fmt)


@app.command("list")
def list_(fmt: FormatOption = Format.table) -> None:
    """List deployments and their components."""
    from projections import queries

    with services() as svc:
        rows = queries.deployments(svc.view)
    if fmt is Format.table:
        for row in rows:
            row["components"] = ", ".join(f"{c['name']} ({c['type']})" for c in row["components"])
    emit(rows, fmt, COLUMNS)
