"""``agnt5 datasets archive|unarchive`` and ``agnt5 experiments archive|unarchive`` (``domain.archiving``)."""

from __future__ import annotations

import typer

from agnt5_evals.cli.common import Format, FormatOption, emit, note
from agnt5_evals.cli.gateway import gateway
from agnt5_evals.cli.refs import ref

HOW = {
    ("dataset", True): "hidden from datasets list (--archived shows it); its versions and runs stay",
    ("dataset", False): "listed again",
    ("experiment", True): "hidden from experiments list (--archived shows it) and starts no new runs; its "
    "versions and runs stay",
    ("experiment", False): "listed again, and it starts runs",
}


def set_archived(kind: str, value: str, field: str, archived: bool, fmt: Format) -> None:
    """Archive or unarchive the ``kind`` that ``value`` names; print its id (or its row)."""
    with gateway() as gw:
        row = gw.set_archived(kind, ref(gw, kind, value, field), archived)
    if fmt is not Format.table:
        emit(row, fmt)
        return
    note(f"{'Archived' if archived else 'Unarchived'} {kind} {row['name']!r}: {HOW[kind, archived]}")
    typer.echo(row["id"])


def archive_dataset(dataset_id: str, fmt: FormatOption = Format.table) -> None:
    """Archive a dataset (by id or name): hidden from datasets list unless --archived; show, versions, the
    experiments and runs over it and its history stay readable."""
    set_archived("dataset", dataset_id, "DATASET_ID", True, fmt)


def unarchive_dataset(dataset_id: str, fmt: FormatOption = Format.table) -> None:
    """Unarchive a dataset: listed again."""
    set_archived("dataset", dataset_id, "DATASET_ID", False, fmt)


def archive_experiment(experiment_id: str, fmt: FormatOption = Format.table) -> None:
    """Archive an experiment (by id or name): hidden from experiments list unless --archived, and it starts no
    new runs (refused, exit 1, until unarchived); its versions, runs and history stay readable."""
    set_archived("experiment", experiment_id, "EXPERIMENT_ID", True, fmt)


def unarchive_experiment(experiment_id: str, fmt: FormatOption = Format.table) -> None:
    """Unarchive an experiment: listed again, and it starts runs."""
    set_archived("experiment", experiment_id, "EXPERIMENT_ID", False, fmt)
