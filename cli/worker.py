"""``agnt5 worker``: keep runs executing; resume any run whose worker died (exactly once, from its watermark)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import note, services
from runner.supervisor import supervise

app = typer.Typer(help="Workers that execute runs.", invoke_without_command=True)


@app.callback()
def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Resume the orphaned runs, wait for them, then exit.")] = False,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between looks for orphaned runs.")] = 2.0,
) -> None:
    """Resume every running run that has no live worker (after a crash or a kill), then keep watching."""
    if ctx.invoked_subcommand is not None:
        return
    with services() as svc:
        resumed = supervise(svc, once, poll, lambda run_id: note(f"resuming run {run_id}"))
    if once:
        note(f"resumed {resumed} run(s)")
