"""Datasets and their versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import ServicesDep
from domain.ids import parse_uuid
from projections import queries

router = APIRouter(tags=["datasets"])


class DatasetIn(BaseModel):
    name: str
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class ItemsIn(BaseModel):
    items: list[Any]


class PublishIn(BaseModel):
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


@router.get("/datasets")
def list_datasets(svc: ServicesDep, search: str = "") -> list[dict[str, Any]]:
    """List datasets."""
    return queries.datasets(svc.view, search)


@router.post("/datasets", status_code=201)
def create_dataset(body: DatasetIn, svc: ServicesDep) -> dict[str, Any]:
    """Create a dataset with an empty draft."""
    written = svc.app.create_dataset(body.name, body.description, body.metadata)
    svc.wait_for(written.position)
    return queries.dataset(svc.view, str(written.id))


@router.get("/datasets/{dataset_id}")
def get_dataset(dataset_id: str, svc: ServicesDep) -> dict[str, Any]:
    """One dataset."""
    return queries.dataset(svc.view, str(parse_uuid(dataset_id, "dataset_id")))


@router.post("/datasets/{dataset_id}/items", status_code=201)
def add_items(dataset_id: str, body: ItemsIn, svc: ServicesDep) -> dict[str, Any]:
    """Add items to the draft, all or none."""
    written = svc.app.add_items(parse_uuid(dataset_id, "dataset_id"), body.items)
    svc.wait_for(written.position)
    return {"added": written.number, **queries.dataset(svc.view, str(written.id))}


@router.post("/datasets/{dataset_id}/publish", status_code=201)
def publish(dataset_id: str, body: PublishIn, svc: ServicesDep) -> dict[str, Any]:
    """Publish the draft as the next immutable version."""
    written = svc.app.publish(parse_uuid(dataset_id, "dataset_id"), body.description, body.metadata)
    svc.wait_for(written.position)
    return queries.dataset_version(svc.view, str(written.id))


@router.get("/datasets/{dataset_id}/versions")
def list_versions(dataset_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    """A dataset's versions."""
    return queries.dataset_versions(svc.view, str(parse_uuid(dataset_id, "dataset_id")))


@router.get("/datasets/{dataset_id}/versions/{version_id}/items")
def version_items(dataset_id: str, version_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    """The items of one version, in order."""
    parse_uuid(dataset_id, "dataset_id")
    return queries.version_items(svc.view, str(parse_uuid(version_id, "version_id")))
