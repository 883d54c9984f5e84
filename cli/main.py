"""The ``agnt5`` command: composes the noun apps and maps errors to one line and an exit code."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, MutableMapping
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from agnt5_evals.domain.errors import EXIT_USAGE, EvalsError, exit_codes_text
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, check_project_id, project_scope

# The commands, imported only when used: `agnt5 --help` lists them from here, and `agnt5 runs ...` imports only its
# own module (tests/cli/test_lazy_commands.py keeps each help line equal to its command's own).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "mcp": ("mcp_command", "mcp", "Serve the eval tools over MCP on stdin/stdout (register this command with an MCP "
            "client)."),
    "server": ("server", "server", "Serve the REST API (docs at /docs) over the store named by the environment."),
    "studio": ("server", "studio", "Open the Studio: the Evaluate pages in a browser (docs/studio.md)."),
    "datasets": ("datasets", "app", "Create datasets, edit their draft and publish immutable versions."),
    "deployments": ("deployments", "app", "Register deployments whose components experiments run against."),
    "experiments": ("experiments", "app", "Create experiments and run them over a dataset version."),
    "prompts": ("prompts", "app", "Prompts and their immutable versions: targets of prompt experiments."),
    "projects": ("projects", "app", "Projects: every dataset, deployment, experiment, run and score belongs to one "
                 "(default unless --project-id or AGNT5_PROJECT_ID names another)."),
    "reports": ("reports", "app", "Run reports for people and for CI."),
    "scores": ("scores", "app", "Scores, their evidence, and human annotations."),
    "scorers": ("scorers", "app", "Built-in and custom scorers."),
    "worker": ("worker", "app", "Workers that execute runs, and that serve components over HTTP."),
    "projections": ("projections", "app", "The read model built from the event log."),
    "audit": ("audit", "app", "Audit the event log: every recorded event in order, its digests (verify), the store's "
              "invariants (check)."),
    "keys": ("keys", "app", "API keys of a project: create (shown once), list, revoke."),
    "db": ("pool", "db", "The store's schema: create the tables before servers and workers start."),
    "workers": ("pool", "workers", "The worker pool (AGNT5_EXECUTOR=queue): its live workers."),
}  # fmt: skip


def load_command(name: str) -> Any:
    """Import one of ``COMMANDS`` and build its click command, as ``app.add_typer``/``app.command`` would."""
    module, attribute, _ = COMMANDS[name]
    found = getattr(importlib.import_module(f"agnt5_evals.cli.{module}"), attribute)
    if isinstance(found, typer.Typer):
        command: Any = typer.main.get_group(found)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(found)
        command = typer.main.get_command(single)
    command.name = name
    _plain_help(command)
    return command


class LazyCommands(MutableMapping[str, Any]):
    """The root group's ``commands``: every name of ``COMMANDS`` is there, each imported on first access."""

    def __init__(self) -> None:
        self.loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self.loaded[name] = load_command(name)
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*COMMANDS, *(name for name in self.loaded if name not in COMMANDS)])

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self.loaded))

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self.loaded


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
        self.rich_markup_mode = None  # plain help (see _plain_help); the commands get it as they load
        self.commands = LazyCommands()

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list of ``agnt5 --help``, from ``COMMANDS``: nothing is imported to print it."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, TyperCommand(name, help=text).get_short_help_str(limit)) for name, (_, _, text) in COMMANDS.items()
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EvalsError as exc:
            from agnt5_evals.cli.common import error_line

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


def main() -> None:
    app(prog_name="agnt5")


if __name__ == "__main__":
    main()
