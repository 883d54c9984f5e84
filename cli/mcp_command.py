"""``agnt5 mcp``: the stdio MCP server's command; the SDK is imported only when it runs (it costs ~0.4 s)."""

from __future__ import annotations

from typing import Annotated

import typer

from agnt5_evals.domain.errors import Invalid

SERVICES = ("evals", "experiments")


def parse_services(value: str | None) -> frozenset[str] | None:
    """``evals,experiments`` -> the chosen services; None (not given) means every tool."""
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVICES]
    if unknown or not names:
        raise Invalid(f"--services: unknown service {unknown[0] if unknown else ''!r} (use {', '.join(SERVICES)})")
    return frozenset(names)


def mcp(
    services: Annotated[
        str | None,
        typer.Option(
            "--services",
            help="Comma-separated subset of evals (datasets, scores), experiments (experiments, runs); "
            "drops compare_experiment_runs.",
        ),
    ] = None,
) -> None:
    """Serve the eval tools over MCP on stdin/stdout (register this command with an MCP client).

    Tools: list_eval_datasets, get_eval_dataset, get_dataset_item_payload, list_experiments, get_experiment,
    run_experiment, get_experiment_run_summary, list_experiment_failures, compare_experiment_runs,
    cancel_experiment_run, list_scores, get_score_evidence. Creating and editing datasets and experiments is
    done with the CLI.
    """
    chosen = parse_services(services)
    from agnt5_evals.cli.mcp_server import serve

    serve(chosen)
