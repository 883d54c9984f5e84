"""``agnt5 deployments``: snapshot a Python module's code, or register an HTTP worker, as a deployment; list, show
and archive deployments."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agnt5_evals.cli.common import Format, FormatOption, console, emit, note, print_created
from agnt5_evals.cli.gateway import gateway
from agnt5_evals.cli.refs import ref

app = typer.Typer(help="Register deployments whose components experiments run against.", no_args_is_help=True)

COLUMNS = ["id", "name", "kind", "code", "module", "url", "components", "created_at"]


def _code(row: dict[str, Any]) -> str:
    """How a deployment runs its code, in a few words."""
    if row["kind"] == "http":
        return f"build {row['build']}" if row["build"] else "server (no build reported)"
    if row["editable"]:
        return "editable (live files)"
    return f"snapshot {row['bundle_digest'][:19]}"


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Deployment name, e.g. support-agent@v2.")],
    module: Annotated[str, typer.Option("--module", help="PACKAGE.MODULE defining @component callables.")] = "",
    url: Annotated[
        str, typer.Option("--url", help="Base URL of an HTTP worker (agnt5 worker serve); instead of --module.")
    ] = "",
    path: Annotated[
        str | None, typer.Option("--path", help="Directory whose tree is snapshotted (default: the current one).")
    ] = None,
    editable: Annotated[
        bool,
        typer.Option(
            "--editable", help="Run the live files under --path (no snapshot; each run records their digest)."
        ),
    ] = False,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Snapshot only files matching this glob. Repeatable.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Leave out files matching this glob. Repeatable.")
    ] = None,
    max_size: Annotated[
        str | None,
        typer.Option("--max-size", help="Cap on the snapshot's total size (default 20MiB; K, M, G suffixes)."),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Register a deployment of a module's components (--module) or of an HTTP worker's (--url); prints its id.

    A module's deployment is an immutable snapshot of the tree under --path, stored in the log: editing the files
    afterwards changes nothing until a new deployment is created. Left out: .git, virtual environments, caches
    (__pycache__, .mypy_cache, .pytest_cache, .ruff_cache, node_modules, *.pyc) and git-ignored files. A glob
    matches a file's path relative to --path, or one of its parent directories (* also matches /). A symbolic
    link to a file under --path is stored as that file; any other link is refused (exclude it).

    An HTTP worker lists its components at GET URL/components (with the build it reports, if any); each item of a
    run is a POST to URL.
    """
    how = {"module": module, "url": url, "path": path, "editable": editable, "include": list(include or []),
           "exclude": list(exclude or []), "max_size": max_size}  # fmt: skip
    with gateway() as gw:
        row = gw.create_deployment(name, how)
    listed = ", ".join(f"{c['name']} ({c['type']})" for c in row["components"])
    code = f" [{_code(row)}, {row['bundle_files']} files, {row['bundle_size']:,} bytes]" if row["bundle_digest"] else ""
    print_created(fmt, row, f"Created deployment {name!r} of {module or row['url']}{code}: {listed}")


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Archived deployments too.")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """List deployments and their components (archived ones only with --all)."""
    with gateway() as gw:
        rows = gw.deployments(all_)
    if fmt is Format.table:
        for row in rows:
            row["components"] = ", ".join(f"{c['name']} ({c['type']})" for c in row["components"])
            row["code"] = _code(row) + (" (archived)" if row["archived"] else "")
    emit(rows, fmt, COLUMNS)


@app.command("show")
def show(deployment_id: str, fmt: FormatOption = Format.table) -> None:
    """A deployment: its code (snapshot digest, files and sizes; or editable; or the HTTP build), components and
    whether it is archived."""
    with gateway() as gw:
        detail = gw.deployment(ref(gw, "deployment", deployment_id, "DEPLOYMENT_ID"))
    if fmt is not Format.table:
        emit(detail, fmt)
        return
    out = console()
    out.print(
        f"deployment  {detail['id']}  {detail['name']}"
        + ("  (archived: starts no new runs)" if detail["archived"] else "")
    )
    if detail["kind"] == "http":
        out.print(f"server      {detail['url']}  build {detail['build'] or '(none reported)'}")
    elif detail["editable"]:
        out.print(f"code        editable: runs the live files under {detail['path']} (each run records their digest)")
    else:
        out.print(f"code        snapshot {detail['bundle_digest']} of {detail['path']}")
        out.print(f"size        {detail['bundle_size']:,} bytes in {detail['bundle_files']} files")
    if detail["module"]:
        out.print(f"module      {detail['module']}")
    for glob_kind in ("include", "exclude"):
        if detail[f"{glob_kind}_globs"]:
            out.print(f"{glob_kind:<11} {', '.join(detail[f'{glob_kind}_globs'])}")
    out.print("components  " + ", ".join(f"{c['name']} ({c['type']})" for c in detail["components"]))
    for f in detail["files"]:
        out.print(f"  {f['size']:>10,}  {'x' if f['executable'] else ' '}  {f['path']}")


@app.command("archive")
def archive(deployment_id: str, fmt: FormatOption = Format.table) -> None:
    """Archive a deployment: it starts no new runs (a run of it is refused, exit 1); its runs still show it."""
    with gateway() as gw:
        row = gw.archive_deployment(ref(gw, "deployment", deployment_id, "DEPLOYMENT_ID"))
    if fmt is Format.table:
        note(f"Archived deployment {row['name']!r}: it starts no new runs")
        typer.echo(row["id"])
    else:
        emit(row, fmt)
