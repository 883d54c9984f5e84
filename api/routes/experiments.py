"""Experiments, their versions, and starting runs."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas import RunListRow, RunSummary
from agnt5_evals.api.schemas_catalog import Experiment, ExperimentVersion
from agnt5_evals.domain.errors import Invalid, NotFound
from agnt5_evals.domain.gates import MAX_FAILED_ITEMS
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.projections import queries
from agnt5_evals.services import archiving, experiments, operations, runs
from agnt5_evals.services.definitions import target_from

MAX_PAGE = 10**9  # (page - 1) * page_size stays far inside the store's 64-bit integers

router = Router(tags=["experiments"])


class GateConfig(BaseModel):
    """The gate's rules (the control plane's ``min_pass_rate`` and ``max_failed_items``; per-scorer minimums; the
    noise-aware baseline comparison). Any other key is refused naming it, with the closest rule suggested."""

    model_config = ConfigDict(extra="allow")  # an unknown rule reaches check_gate_config, which names it
    min_pass_rate: float | None = Field(None, ge=0, le=1, strict=True, description="default: 1 (or passed_threshold)")
    max_failed_items: int | None = Field(None, ge=0, le=MAX_FAILED_ITEMS, strict=True, description="default: no limit")
    scorers: dict[str, dict[str, Any]] | None = Field(
        None, description='per scorer key: {"min_pass_rate": 0..1, "min_mean_score": number}'
    )
    baseline: str | None = Field(None, description='a run id, or "last_passed": see docs/ci.md')
    max_regression: float | None = Field(
        None, ge=0, le=1, description="how far (pass rate, 0.02: 2 points) the run may fall below the baseline"
    )
    alpha: float | None = Field(None, gt=0, le=0.5, description="the significance level (default 0.05)")


class ExperimentIn(BaseModel):
    """The reference's create payload (§1.4), with the control plane client's fields: a target, a dataset
    version, scorers (none: exact_match when every item has an expected output), config and gate_config."""

    name: str
    description: str = ""
    type: Literal["evaluation"] = Field("evaluation", description="the only type: evaluation")
    dataset_id: str
    dataset_version_id: str
    target_type: str = "component"
    deployment_id: str | None = None
    component_name: str | None = None
    component_type: str | None = None
    prompt_id: str | None = None
    prompt_version_id: str | None = None
    execution_mode: str | None = Field(
        None, max_length=64, description="recorded as config.execution_mode (dev_worker, ...); runs go to workers"
    )
    scorers: list[str | dict[str, Any]] = Field(default_factory=list)
    scorer_ids: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict, description="run settings and any metadata keys (kept)")
    repetitions: int | None = None
    gate_config: GateConfig | None = Field(
        None, description="kept as config.gate_config; with passed_threshold, the stricter minimum pass rate applies"
    )


class RunIn(BaseModel):
    name: str = ""
    deployment_id: str | None = None
    experiment_version_id: str | None = None
    config: dict[str, Any] | None = None  # overrides for this run only


def _config(body: ExperimentIn) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The experiment's config (with repetitions and execution_mode) and its gate_config (None: not given)."""
    extra = {"repetitions": body.repetitions, "execution_mode": body.execution_mode}
    config = {**body.config, **{key: value for key, value in extra.items() if value is not None}}
    if body.gate_config is None:
        return config, None
    gate = body.gate_config.model_dump(exclude_none=True)
    if "gate_config" in config and config["gate_config"] != gate:
        raise Invalid("given twice (gate_config and config.gate_config) with different rules", field="gate_config")
    return config, gate


@router.post("/experiments", status_code=201, response_model=Experiment)
def create_experiment(body: ExperimentIn, svc: ServicesDep) -> dict[str, Any]:
    """Create an experiment (bad scorers, config or ids: 422/404 naming the field)."""
    target = target_from(body.target_type, body.deployment_id, body.component_name, body.component_type,
                         body.prompt_id, body.prompt_version_id)  # fmt: skip
    builtin = [s if isinstance(s, str) else json.dumps(s) for s in body.scorers]
    config, gate = _config(body)
    dataset = parse_uuid(body.dataset_id, "dataset_id")
    version = parse_uuid(body.dataset_version_id, "dataset_version_id")
    return experiments.create_experiment(
        svc, body.name, body.description, dataset, version, target, builtin, body.scorer_ids, config, gate
    )


@router.get("/experiments", response_model=list[Experiment])
def list_experiments(
    svc: ServicesDep,
    dataset_id: str = "",
    status: str = "",
    type: str = "",
    page: Annotated[int, Query(ge=0, le=MAX_PAGE)] = 0,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
    archived: bool = False,
) -> list[dict[str, Any]]:
    """Experiments, oldest first, filtered like ``experiments list`` (archived ones with ``archived=true``)."""
    did = str(parse_uuid(dataset_id, "dataset_id")) if dataset_id else ""
    return operations.list_experiments(svc, did, status, type, page, page_size, archived)


@router.get("/experiments/{experiment_id}", response_model=Experiment)
def get_experiment(experiment_id: str, svc: ServicesDep) -> dict[str, Any]:
    """One experiment with its current definition."""
    return queries.experiment(svc.view, str(parse_uuid(experiment_id, "experiment_id")))


class ExperimentPatch(BaseModel):
    """What ``experiments update`` changes (those given); the next run snapshots it as a new version."""

    model_config = ConfigDict(extra="forbid")
    scorers: list[str | dict[str, Any]] = Field(default_factory=list)
    scorer_ids: list[str] = Field(default_factory=list)
    config: dict[str, Any] | None = None
    dataset_version_id: str | None = None


@router.patch("/experiments/{experiment_id}", response_model=Experiment)
def update_experiment(experiment_id: str, body: ExperimentPatch, svc: ServicesDep) -> dict[str, Any]:
    """Edit the definition (scorers, config, dataset version: those given); the next run snapshots it."""
    if not (body.scorers or body.scorer_ids or body.config is not None or body.dataset_version_id is not None):
        raise Invalid("nothing to update: give scorers, scorer_ids, config or dataset_version_id")
    builtin = [s if isinstance(s, str) else json.dumps(s) for s in body.scorers]
    version = parse_uuid(body.dataset_version_id, "dataset_version_id") if body.dataset_version_id else None
    eid = parse_uuid(experiment_id, "experiment_id")
    return experiments.update_experiment(svc, eid, builtin, body.scorer_ids, body.config, version)


@router.post("/experiments/{experiment_id}/archive", response_model=Experiment)
def archive_experiment(experiment_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Archive an experiment: hidden from lists, starts no new runs (409); its versions and runs stay."""
    return archiving.set_experiment_archived(svc, parse_uuid(experiment_id, "experiment_id"), True)


@router.post("/experiments/{experiment_id}/unarchive", response_model=Experiment)
def unarchive_experiment(experiment_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Unarchive an experiment: listed again, and runs start."""
    return archiving.set_experiment_archived(svc, parse_uuid(experiment_id, "experiment_id"), False)


@router.get("/experiments/{experiment_id}/versions", response_model=list[ExperimentVersion])
def list_versions(experiment_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    """An experiment's immutable versions."""
    return queries.experiment_versions(svc.view, str(parse_uuid(experiment_id, "experiment_id")))


@router.get("/experiments/{experiment_id}/runs", response_model=list[RunListRow])
def list_runs(experiment_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    """An experiment's runs, oldest first: each with its summary's fields but the per-scorer aggregates."""
    return runs.list_runs(svc, str(parse_uuid(experiment_id, "experiment_id")))


@router.read("/experiments/{experiment_id}/runs/{run_id}", response_model=RunSummary, response_model_exclude_unset=True)
def get_run(experiment_id: str, run_id: str, svc: ServicesDep) -> dict[str, Any]:
    """One run of an experiment: status, pass rate, gate and per-scorer aggregates."""
    summary = operations.summary(svc, str(parse_uuid(run_id, "run_id")))
    if summary["experiment_id"] != str(parse_uuid(experiment_id, "experiment_id")):
        raise NotFound(f"run {run_id} is not a run of experiment {experiment_id}")
    return summary


@router.post(
    "/experiments/{experiment_id}/runs/{run_id}/cancel", response_model=RunSummary, response_model_exclude_unset=True
)
def cancel_run(experiment_id: str, run_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Cancel a running run of the experiment (``experiments runs cancel``); what finished is kept."""
    return runs.cancel_run(svc, parse_uuid(run_id, "run_id"), parse_uuid(experiment_id, "experiment_id"))


@router.post(
    "/experiments/{experiment_id}/runs", status_code=202, response_model=RunSummary, response_model_exclude_unset=True
)
def start_run(experiment_id: str, body: RunIn, svc: ServicesDep) -> dict[str, Any]:
    """Start a run in a worker process; returns its summary at once."""
    return operations.start_run(
        svc,
        parse_uuid(experiment_id, "experiment_id"),
        body.name,
        parse_uuid(body.deployment_id, "deployment_id") if body.deployment_id else None,
        parse_uuid(body.experiment_version_id, "experiment_version_id") if body.experiment_version_id else None,
        config=body.config,
    )
