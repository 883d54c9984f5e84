"""Experiment use cases: create one from a definition, and edit it (the next run snapshots the edit)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.projections import queries
from agnt5_evals.services.definitions import scorers_from


def create_experiment(
    svc: Services,
    name: str,
    description: str,
    dataset_id: UUID,
    dataset_version_id: UUID,
    target: dict[str, Any],
    builtin_scorers: list[str] | None,
    scorer_ids: list[str] | None,
    config: dict[str, Any],
) -> dict[str, Any]:
    """Create an experiment: target x dataset version x scorers (built-in specs and custom ids) x config."""
    definition = {
        "dataset_id": str(dataset_id),
        "dataset_version_id": str(dataset_version_id),
        "target": target,
        "scorers": scorers_from(svc, builtin_scorers, scorer_ids),
        "config": config,
    }
    written = svc.app.create_experiment(name, description, definition)
    svc.wait_for(written.position)
    return queries.experiment(svc.view, str(written.id))


def update_experiment(
    svc: Services,
    experiment_id: UUID,
    builtin_scorers: list[str] | None = None,
    scorer_ids: list[str] | None = None,
    config: dict[str, Any] | None = None,
    dataset_version_id: UUID | None = None,
) -> dict[str, Any]:
    """Edit the definition (scorers, config, dataset version: those given); returns the experiment's row."""
    changes: dict[str, Any] = {}
    if builtin_scorers or scorer_ids:
        changes["scorers"] = scorers_from(svc, builtin_scorers, scorer_ids)
    if config is not None:
        changes["config"] = config
    if dataset_version_id is not None:
        changes["dataset_version_id"] = str(dataset_version_id)
    written = svc.app.update_experiment(experiment_id, changes)
    svc.wait_for(written.position)
    return queries.experiment(svc.view, str(written.id))
