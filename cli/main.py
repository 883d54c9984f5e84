"""The ``agnt5`` command: composes the noun apps and maps errors to one line and an exit code."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from agnt5_evals.cli import (
    audit,
    datasets,
    deployments,
    experiments,
    keys,
    pool,
    projections,
    projects,
    prompts,
    reports,
    scorers,
    scores,
    worker,
)
from agnt5_evals.cli.common import error_line
from agnt5_evals.cli.mcp_command import mcp
from agnt5_evals.cli.server import server, studio
from agnt5_evals.domain.errors import EXIT_USAGE, EvalsError, exit_codes_text
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, check_project_id, project_scope

BOOL_FLAGS = ("--fail-on-gate", "--partial")
PROJECT_FLAG = "--project-id"


def _bool_flag(arg: str) -> str:
    """Accept the documented ``--fail-on-gate=false`` spelling of a boolean flag."""
    flag, _, value = arg.partition("=")
    if flag in BOOL_FLAGS and value.lower() in ("false", "0", "no"):
        return "--no-" + flag[2:]
    if flag in BOOL_FLAGS and value.lower() in ("true", "1", "yes"):
        return flag
    return arg


def _project_first(args: list[str]) -> list[str]:
    """``agnt5 datasets list --project-id P`` as ``agnt5 --project-id P datasets list``: the root option is
    accepted after any command too (the last one given wins). Arguments after ``--`` are left alone."""
    moved: list[str] = []
    rest: list[str] = []
    n = 0
    while n < len(args):
        arg = args[n]
        if arg == "--":
            rest.extend(args[n:])
            break
        if arg == PROJECT_FLAG and n + 1 < len(args):
            moved += args[n : n + 2]
            n += 2
            continue
        if arg.startswith(PROJECT_FLAG + "="):
            moved.append(arg)
        else:
            rest.append(arg)
        n += 1
    return moved + rest


def _leaf(group: TyperGroup, args: list[str]) -> Any:
    """The command the arguments name (``experiments runs show ...``), to spell an error's field as its flag."""
    command: Any = group
    for arg in args:
        if not hasattr(command, "commands"):
            return command
        command = command.commands.get(arg, command)
    return None if hasattr(command, "commands") else command


def _plain_help(command: Any) -> None:
    """Every command's ``--help`` in click's plain layout, not rich's panels: at any width (80 columns too) each
    option's name is printed in full (rich cut it to ``--experiment-ver…``), and a flag shows no ``<bool>`` value."""
    command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


class Agnt5Group(TyperGroup):
    """Maps errors once: a domain error or a usage error is one clean line on stderr and exit code 1.

    (Click's usage errors would exit 2, which belongs to the CI gate here.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_help(self)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EvalsError as exc:
            typer.echo(f"error: {error_line(exc, _leaf(self, getattr(self, 'typed_args', [])))}", err=True)
            raise typer.Exit(EXIT_USAGE) from None

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        args = [_bool_flag(arg) for arg in (sys.argv[1:] if args is None else list(args))]
        args = self.typed_args = _project_first(args)
        try:
            code = super().main(args, *rest, **kwargs)
        except typer.Abort:
            typer.echo("Aborted.", err=True)
            sys.exit(EXIT_USAGE)
        except Exception as exc:
            show = getattr(exc, "show", None)
            if show is None or not hasattr(exc, "exit_code"):
                raise
            show()  # a click usage error: unknown option, missing argument, bad value ...
            sys.exit(EXIT_USAGE)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=Agnt5Group,
    help="agnt5-evals: datasets, experiments, scorers, reports and CI gates on an event log.\n\n" + exit_codes_text(),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    project_id: Annotated[
        str,
        typer.Option(
            PROJECT_FLAG,
            envvar="AGNT5_PROJECT_ID",
            help="The project the command acts in (also accepted after the command): it sees and creates only "
            "that project's resources. Create one with `agnt5 projects create`.",
        ),
    ] = DEFAULT_PROJECT,
) -> None:
    """Run the command in its project's scope (``domain.tenancy.project_scope``)."""
    ctx.with_resource(project_scope(check_project_id(project_id)))


app.add_typer(datasets.app, name="datasets")
app.add_typer(deployments.app, name="deployments")
app.add_typer(experiments.app, name="experiments")
app.add_typer(prompts.app, name="prompts")
app.add_typer(projects.app, name="projects")
app.add_typer(reports.app, name="reports")
app.add_typer(scores.app, name="scores")
app.add_typer(scorers.app, name="scorers")
app.add_typer(worker.app, name="worker")
app.add_typer(projections.app, name="projections")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(pool.db, name="db")
app.add_typer(pool.workers, name="workers")
app.command("mcp")(mcp)
app.command("server")(server)
app.command("studio")(studio)


def main() -> None:
    app(prog_name="agnt5")


if __name__ == "__main__":
    main()
