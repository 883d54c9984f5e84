"""``agnt5 deployments``: register a Python module's components, or an HTTP worker's, as an immutable deployment."""

from __future__ import annotations

from typing import Annotated

import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, print_created, services
from agnt5_evals.services import catalog
from agnt5_evals.services.definitions import deployment_source

app = typer.Typer(help="Register deployments whose components experiments run against.", no_args_is_help=True)

COLUMNS = ["id", "name", "kind", "module", "url", "components", "created_at"]


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Deployment name, e.g. support-agent@v2.")],
    module: Annotated[str, typer.Option("--module", help="PACKAGE.MODULE defining @component callables.")] = "",
    url: Annotated[
        str, typer.Option("--url", help="Base URL of an HTTP worker (agnt5 worker serve); instead of --module.")
    ] = "",
    path: Annotated[
        str | None, typer.Option("--path", help="Directory to import the module from (default: the current one).")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Register a deployment of a module's components (--module) or of an HTTP worker's (--url); prints its id.

    An HTTP worker lists its components at GET URL/components; each item of a run is a POST to URL.
    """
    source = deployment_source(module, url, path)
    with services(catch_up=False) as svc:
        row = catalog.create_deployment(svc, name, source)
    listed = ", ".join(f"{c['name']} ({c['type']})" for c in source["components"])
    print_created(fmt, row, f"Created deployment {name!r} of {module or row['url']}: {listed}")


@app.command("list")
def list_(fmt: FormatOption = Format.table) -> None:
    """List deployments and their components."""
    from agnt5_evals.projections import queries

    with services() as svc:
        rows = queries.deployments(svc.view)
    if fmt is Format.table:
        for row in rows:
            row["components"] = ", ".join(f"{c['name']} ({c['type']})" for c in row["components"])
    emit(rows, fmt, COLUMNS)
