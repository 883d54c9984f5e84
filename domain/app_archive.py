"""Archive and unarchive datasets and experiments (``domain.archiving``)."""

from __future__ import annotations

from uuid import UUID

from agnt5_evals.domain.app_base import BaseApplication, Written
from agnt5_evals.domain.model import Dataset, Experiment


class ArchiveCommands(BaseApplication):
    def set_dataset_archived(self, dataset_id: UUID, archived: bool) -> Written:
        """Archive (``Dataset.Archived``) or unarchive (``Dataset.Unarchived``) a dataset."""
        dataset = self.get(Dataset, dataset_id, "dataset")
        dataset.set_archived(archived)
        return Written(dataset.id, self._save(dataset))

    def set_experiment_archived(self, experiment_id: UUID, archived: bool) -> Written:
        """Archive (``Experiment.Archived``) or unarchive (``Experiment.Unarchived``) an experiment."""
        experiment = self.get(Experiment, experiment_id, "experiment")
        experiment.set_archived(archived)
        return Written(experiment.id, self._save(experiment))
