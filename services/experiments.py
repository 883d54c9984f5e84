"""Experiment use cases: create one from a definition, and edit it (the next run snapshots the edit)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.gates import check_gate_config
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
    gate_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create an experiment: target x dataset version x scorers (built-in specs and custom ids) x config.

    ``gate_config`` (the control plane's ``{min_pass_rate, max_failed_items}``) is kept as ``config.gate_config``,
    where the gate reads it next to ``config.passed_threshold``. With no scorers at all, the experiment scores with
    ``exact_match`` when every item of the dataset version has an expected output; the row's ``notes`` say so.
    """
    notes: list[str] = []
    if gate_config is not None:
        config = {**config, "gate_config": check_gate_config(gate_config)}
    if not builtin_scorers and not scorer_ids:
        builtin_scorers = [DEFAULT_SCORER]
        notes.append(_default_scorer(svc, dataset_id, dataset_version_id))
    definition = {
        "dataset_id": str(dataset_id),
        "dataset_version_id": str(dataset_version_id),
        "target": target,
        "scorers": scorers_from(svc, builtin_scorers, scorer_ids),
        "config": config,
    }
    written = svc.app.create_experiment(name, description, definition)
    svc.wait_for(written.position)
    return {**queries.experiment(svc.view, str(written.id)), "notes": notes}


DEFAULT_SCORER = "exact_match"


def _default_scorer(svc: Services, dataset_id: UUID, dataset_version_id: UUID) -> str:
    """The note saying an experiment without scorers uses ``exact_match``; Invalid (naming ``scorers``) when some
    item of the dataset version has no expected output to match. Reads the log, not the view (which may not have
    caught up with a version another process just published)."""
    items = svc.app.version_items(svc.app.dataset_version(dataset_id, dataset_version_id))
    missing = sum(1 for item in items if item.get("expected_output") is None)
    if not items or missing:
        why = "the dataset version has no items" if not items else f"{missing} of {len(items)} have no expected output"
        raise Invalid(f"attach at least one scorer: with none, exact_match is used only when every item has an "
                      f"expected output, and {why}", field="scorers")  # fmt: skip
    return f"no scorers given: using {DEFAULT_SCORER} (every item of the dataset version has an expected output)"


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
