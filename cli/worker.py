"""``agnt5 worker``: keep runs executing; resume any run whose worker died (exactly once, from its watermark).

``agnt5 worker serve``: serve a module's components over HTTP, for deployments created with ``--url``.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from agnt5_evals.adapters.bootstrap import Settings
from agnt5_evals.cli.common import note, services
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.worker.http_worker import make_server
from agnt5_evals.worker.http_worker import serve as serve_forever
from agnt5_evals.worker.supervisor import supervise

app = typer.Typer(help="Workers that execute runs, and that serve components over HTTP.", invoke_without_command=True)


@app.callback()
def worker(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Resume the orphaned runs, wait for them, then exit (pool: as --burst).")
    ] = False,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between looks for orphaned runs.")] = 2.0,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Worker pool: shards this worker runs at once.", min=1, max=64)
    ] = 2,
    name: Annotated[str, typer.Option("--name", help="Worker pool: this worker's name (workers list).")] = "",
    burst: Annotated[
        bool, typer.Option("--burst", help="Worker pool: exit once the queue is empty, instead of waiting for more.")
    ] = False,
) -> None:
    """Resume every running run that has no live worker (after a crash or a kill), then keep watching.

    With AGNT5_EXECUTOR=queue (PostgreSQL), join the worker pool instead: take shards of any run from the queue,
    on as many machines as you like (run `agnt5 db migrate` once first).
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings.from_env()
    if settings.queued or (settings.executor == "auto" and settings.database_url and pool_ready(settings)):
        from agnt5_evals.worker.pool import PoolWorker, default_name

        PoolWorker(settings, concurrency, name or default_name()).run(burst=burst or once)
        return
    with services() as svc:
        resumed = supervise(svc, once, poll, lambda target: note(f"resuming {_named(target)}"))
    if once:
        note(f"resumed {resumed} run(s)")


def pool_ready(settings: Settings) -> bool:
    from agnt5_evals.worker.pool import is_migrated

    return is_migrated(settings)


def _named(target: str) -> str:
    """``run ID`` or ``rescore ID`` for a worker target."""
    return target.replace(":", " ") if ":" in target else f"run {target}"


@app.command("serve")
def serve(
    module: Annotated[str, typer.Argument(help="PACKAGE.MODULE defining @component callables.")],
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")],
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    path: Annotated[str, typer.Option("--path", help="Directory to import the module from.")] = ".",
) -> None:
    """Serve a module's components over HTTP until interrupted; register it with deployments create --url.

    GET /components lists them; POST / with {component_name, component_type, input} calls one and answers
    200 {output, events}, 422 {error, events} if it raised, 503 if it raised TransientError, 404 if unknown.
    """
    if not 0 <= port <= 65535:
        raise Invalid(f"--port: {port} is not a port number (0 to 65535)")
    server = make_server(module, os.path.abspath(path), host, port)
    note(f"serving {module} on {server.url}")
    serve_forever(server)
