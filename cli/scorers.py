"""``agnt5 scorers``: the built-in catalogue, custom scorers, and trying a scorer on local cases."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, print_created, read_text, services
from agnt5_evals.cli.gateway import Local, gateway
from agnt5_evals.cli.refs import ref
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.model import Deployment
from agnt5_evals.domain.scoring import BUILTINS, parse_scorer_spec
from agnt5_evals.services import catalog
from agnt5_evals.services.scorer_cases import parse_cases, run_in_child, score_cases
from agnt5_evals.worker.scoring import ScorerRuntime

app = typer.Typer(help="Built-in and custom scorers.", no_args_is_help=True)

COLUMNS = ["name", "kind", "source", "requires_config", "description", "config", "id"]


@app.command("list")
def list_(fmt: FormatOption = Format.table) -> None:
    """List the built-in scorers (with their config) and the custom scorers of this store."""
    rows: list[dict[str, Any]] = [
        {"name": s.name, "kind": s.kind, "source": "builtin", "requires_config": s.requires_config,
         "description": s.description, "config": s.config_schema, "id": None}
        for s in sorted(BUILTINS.values(), key=lambda s: (s.kind, s.name))
    ]  # fmt: skip
    with gateway() as gw:
        for row in gw.custom_scorers():
            rows.append({"name": row["name"], "kind": "custom", "source": f"deployment {row['deployment_id']}",
                         "requires_config": False, "description": row["description"],
                         "config": {"component": row["component_name"]}, "id": row["id"]})  # fmt: skip
    if fmt is Format.table:
        for row in rows:
            row["config"] = "; ".join(f"{key}: {about}" for key, about in row["config"].items())
    emit(rows, fmt, COLUMNS)


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Scorer name (not a built-in name).")],
    deployment_id: Annotated[str, typer.Option("--deployment-id", help="Deployment serving the scorer.")],
    component_name: Annotated[str, typer.Option("--component-name", help="The @scorer component.")],
    description: Annotated[str, typer.Option("--description")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Register a deployed custom scorer; prints its UUID (attach it with experiments create --scorer-id)."""
    with gateway() as gw:
        row = gw.create_scorer(name, description, ref(gw, "deployment", deployment_id, "--deployment-id"),
                               component_name)  # fmt: skip
    print_created(fmt, row, f"Created scorer {name!r}")


def _no_deployment(deployment_id: UUID) -> Deployment:
    raise LookupError(f"built-in scorers load no deployment ({deployment_id})")


@app.command("test")
def test(
    cases: Annotated[
        str, typer.Option("--cases", help="JSONL file of {output, expected_output?, input?, events?}; - for stdin.")
    ],
    builtin_scorer: Annotated[str | None, typer.Option("--builtin-scorer", help="Built-in by name or JSON.")] = None,
    scorer_id: Annotated[str | None, typer.Option("--scorer-id", help="Custom scorer id or name.")] = None,
) -> None:
    """Score local cases with no experiment; prints one JSON result per line, in input order."""
    if (builtin_scorer is None) == (scorer_id is None):
        raise Invalid("give exactly one of --builtin-scorer or --scorer-id")
    parsed = parse_cases(read_text(cases, "--cases"))
    if builtin_scorer is not None:
        runtime = ScorerRuntime(_no_deployment)
        try:
            results = score_cases(runtime, parse_scorer_spec(builtin_scorer), parsed)
        finally:
            runtime.close()
    else:
        with services(catch_up=False) as svc:
            spec = catalog.scorer_spec(svc, UUID(ref(Local(svc), "scorer", str(scorer_id), "--scorer-id")))
        results = run_in_child(spec, parsed)
    for result in results:
        typer.echo(orjson.dumps(result).decode())
