"""Archive and unarchive datasets and experiments (``domain.archiving``): the flag, and the row after."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.projections import queries


def set_dataset_archived(svc: Services, dataset_id: UUID, archived: bool) -> dict[str, Any]:
    """Archive a dataset (hidden from lists; its versions and what ran on them stay) or unarchive it; its row."""
    written = svc.app.set_dataset_archived(dataset_id, archived)
    svc.wait_for(written.position)
    return queries.dataset(svc.view, str(written.id))


def set_experiment_archived(svc: Services, experiment_id: UUID, archived: bool) -> dict[str, Any]:
    """Archive an experiment (hidden from lists, starts no new runs; its versions and runs stay) or unarchive it;
    its row."""
    written = svc.app.set_experiment_archived(experiment_id, archived)
    svc.wait_for(written.position)
    return queries.experiment(svc.view, str(written.id))
