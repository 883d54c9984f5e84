"""``agnt5 db migrate`` (the one schema step) and ``agnt5 workers list`` (the worker pool, ``worker.pool``)."""

from __future__ import annotations

import typer

from agnt5_evals.adapters.bootstrap import Settings
from agnt5_evals.cli.common import Format, FormatOption, emit, note

db = typer.Typer(help="The store's schema: create the tables before servers and workers start.", no_args_is_help=True)
workers = typer.Typer(help="The worker pool (AGNT5_EXECUTOR=queue): its live workers.", no_args_is_help=True)

COLUMNS = ["name", "host", "pid", "concurrency", "started_at", "heartbeat_age_s", "shards"]


@db.command("migrate")
def migrate(fmt: FormatOption = Format.table) -> None:
    """Create what the store lacks: the event tables and read model and, on PostgreSQL, the worker pool's queue
    (procrastinate) and its workers table. Safe to run again; one process at a time."""
    from agnt5_evals.worker.pool import migrate as run_migrate

    settings = Settings.from_env()
    created = run_migrate(settings)
    if fmt is Format.table:
        note(f"migrated the {settings.store} store: {', '.join(created)}")
    else:
        emit({"store": settings.store, "created": created}, fmt)


@workers.command("list")
def list_(fmt: FormatOption = Format.table) -> None:
    """The live workers of the pool (a heartbeat within AGNT5_WORKER_STALLED_S), with the shards they run."""
    from agnt5_evals.worker.pool import check_migrated, live_workers

    settings = Settings.from_env()
    check_migrated(settings)
    rows = live_workers(settings)
    if fmt is Format.table:
        shown = [{**row, "shards": " ".join(f"{s['run_id'][:8]}:{s['shard']}" for s in row["shards"])} for row in rows]
        emit(shown, fmt, COLUMNS)
    else:
        emit(rows, fmt, COLUMNS)
