"""Experiments, their versions, and starting runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ServicesDep
from domain.ids import parse_uuid
from projections import queries
from runner import operations

router = APIRouter(tags=["experiments"])


class RunIn(BaseModel):
    name: str = ""
    deployment_id: str | None = None
    experiment_version_id: str | None = None


@router.get("/deployments")
def list_deployments(svc: ServicesDep) -> list[dict[str, Any]]:
    """List deployments and their components."""
    return queries.deployments(svc.view)


@router.get("/experiments")
def list_experiments(svc: ServicesDep, dataset_id: str = "") -> list[dict[str, Any]]:
    """List experiments."""
    return queries.experiments(svc.view, dataset_id)


@router.get("/experiments/{experiment_id}")
def get_experiment(experiment_id: str, svc: ServicesDep) -> dict[str, Any]:
    """One experiment with its current definition."""
    return queries.experiment(svc.view, str(parse_uuid(experiment_id, "experiment_id")))


@router.get("/experiments/{experiment_id}/versions")
def list_versions(experiment_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    """An experiment's immutable versions."""
    return queries.experiment_versions(svc.view, str(parse_uuid(experiment_id, "experiment_id")))


@router.get("/experiments/{experiment_id}/runs")
def list_runs(experiment_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    """An experiment's runs."""
    return queries.runs(svc.view, str(parse_uuid(experiment_id, "experiment_id")))


@router.post("/experiments/{experiment_id}/runs", status_code=202)
def start_run(experiment_id: str, body: RunIn, svc: ServicesDep) -> dict[str, Any]:
    """Start a run in a worker process; returns its summary at once."""
    return operations.start_run(
        svc,
        parse_uuid(experiment_id, "experiment_id"),
        body.name,
        parse_uuid(body.deployment_id, "deployment_id") if body.deployment_id else None,
        parse_uuid(body.experiment_version_id, "experiment_version_id") if body.experiment_version_id else None,
    )
