"""Datasets and their versions."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Query, Response
from pydantic import BaseModel, Field, StrictBool

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas import JsonLines
from agnt5_evals.api.schemas_datasets import (
    CsvUpload,
    Dataset,
    DatasetItem,
    DatasetVersion,
    DedupApplied,
    DedupPreview,
    DraftItem,
    DraftRestored,
    Example,
    ExportedItem,
    ItemRemoved,
    ItemsAdded,
    RunImported,
    VersionComparison,
)
from agnt5_evals.domain.csv_import import CsvMapping
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.projections import queries
from agnt5_evals.services import archiving
from agnt5_evals.services import datasets as use

MAX_VERSION = 2**31 - 1  # a version number the store can compare (no overflow)

router = Router(tags=["datasets"])


class DatasetIn(BaseModel):
    name: str
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class ItemsIn(BaseModel):
    items: list[Any]


class PublishIn(BaseModel):
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


@router.get("/datasets", response_model=list[Dataset])
def list_datasets(svc: ServicesDep, search: str = "", archived: bool = False) -> list[dict[str, Any]]:
    """List datasets; archived ones only with ``archived=true``."""
    return queries.datasets(svc.view, search, archived)


@router.post("/datasets", status_code=201, response_model=Dataset)
def create_dataset(body: DatasetIn, svc: ServicesDep) -> dict[str, Any]:
    """Create a dataset with an empty draft."""
    return use.create_dataset(svc, body.name, body.description, body.metadata)


@router.get("/datasets/{dataset_id}", response_model=Dataset)
def get_dataset(dataset_id: str, svc: ServicesDep) -> dict[str, Any]:
    """One dataset."""
    return queries.dataset(svc.view, str(parse_uuid(dataset_id, "dataset_id")))


@router.post("/datasets/{dataset_id}/archive", response_model=Dataset)
def archive_dataset(dataset_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Archive a dataset: hidden from lists; its versions, and the experiments and runs over them, stay."""
    return archiving.set_dataset_archived(svc, parse_uuid(dataset_id, "dataset_id"), True)


@router.post("/datasets/{dataset_id}/unarchive", response_model=Dataset)
def unarchive_dataset(dataset_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Unarchive a dataset: listed again."""
    return archiving.set_dataset_archived(svc, parse_uuid(dataset_id, "dataset_id"), False)


@router.post("/datasets/{dataset_id}/items", status_code=201, response_model=ItemsAdded)
def add_items(dataset_id: str, body: ItemsIn, svc: ServicesDep) -> dict[str, Any]:
    """Add items to the draft, all or none."""
    return use.add_items(svc, parse_uuid(dataset_id, "dataset_id"), body.items)


@router.delete("/datasets/{dataset_id}/items/{item_id}", response_model=ItemRemoved)
def remove_item(dataset_id: str, item_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Remove one item from the draft (404 when the draft has no such item)."""
    return use.remove_item(svc, parse_uuid(dataset_id, "dataset_id"), item_id)


class ExampleIn(BaseModel):
    input: Any
    expected_output: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    split: str | None = None


@router.post("/datasets/{dataset_id}/examples", status_code=201, response_model=DraftItem)
def add_example(dataset_id: str, body: ExampleIn, svc: ServicesDep) -> dict[str, Any]:
    """Add one item to the draft (``datasets add-example``); the draft row, with the item's id."""
    item = body.model_dump(include={"input", "split"} | (body.model_fields_set & {"expected_output", "metadata"}))
    return use.add_example(svc, parse_uuid(dataset_id, "dataset_id"), item)


@router.post("/datasets/{dataset_id}/publish", status_code=201, response_model=DatasetVersion)
def publish(dataset_id: str, body: PublishIn, svc: ServicesDep) -> dict[str, Any]:
    """Publish the draft as the next immutable version."""
    return use.publish(svc, parse_uuid(dataset_id, "dataset_id"), body.description, body.metadata)


@router.get("/datasets/{dataset_id}/versions", response_model=list[DatasetVersion])
def list_versions(dataset_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    """A dataset's versions."""
    return queries.dataset_versions(svc.view, str(parse_uuid(dataset_id, "dataset_id")))


@router.get("/datasets/{dataset_id}/versions/{version_id}/items", response_model=list[DatasetItem])
def version_items(dataset_id: str, version_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    """The items of one version, in order (404 when the version is not the dataset's)."""
    did, vid = str(parse_uuid(dataset_id, "dataset_id")), str(parse_uuid(version_id, "version_id"))
    queries.dataset(svc.view, did)
    if queries.dataset_version(svc.view, vid)["dataset_id"] != did:
        raise NotFound(f"dataset {did} has no version {vid}", field="version_id")
    return queries.version_items(svc.view, vid)


@router.get(
    "/datasets/{dataset_id}/versions/{version_id}/export", response_model=ExportedItem, response_class=JsonLines
)
def export_version(dataset_id: str, version_id: str, svc: ServicesDep) -> Response:
    """A version's items as JSONL in the upload format, with their ids."""
    items = use.export_items(svc, parse_uuid(dataset_id, "dataset_id"), parse_uuid(version_id, "version_id"))
    return Response(b"".join(orjson.dumps(item) + b"\n" for item in items), media_type="application/x-ndjson")


@router.get(
    "/datasets/{dataset_id}/versions/{base_version_id}/compare/{compare_version_id}", response_model=VersionComparison
)
def compare_versions(
    dataset_id: str, base_version_id: str, compare_version_id: str, svc: ServicesDep
) -> dict[str, Any]:
    """Items added, removed and changed between two versions (paired by item id)."""
    return use.compare(
        svc,
        parse_uuid(dataset_id, "dataset_id"),
        parse_uuid(base_version_id, "base_version_id"),
        parse_uuid(compare_version_id, "compare_version_id"),
    )


@router.post("/datasets/{dataset_id}/versions/{version_id}/restore-draft", response_model=DraftRestored)
def restore_draft(dataset_id: str, version_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Reset the draft to exactly a version's items."""
    return use.restore_draft(svc, parse_uuid(dataset_id, "dataset_id"), parse_uuid(version_id, "version_id"))


@router.get("/datasets/{dataset_id}/examples", response_model=list[Example], response_model_exclude_unset=True)
def examples(
    dataset_id: str,
    svc: ServicesDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    draft: bool = False,
    include_payload: bool = False,
) -> list[dict[str, Any]]:
    """The items of version number ``version`` (default: the latest) or of the draft; payloads on request."""
    return use.examples(svc, parse_uuid(dataset_id, "dataset_id"), version, draft, include_payload)


class AddRunIn(BaseModel):
    run_id: str
    run_item_ids: list[str] = Field(default_factory=list)
    expected_output: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)


@router.post("/datasets/{dataset_id}/runs", status_code=201, response_model=RunImported)
def add_run(dataset_id: str, body: AddRunIn, svc: ServicesDep) -> dict[str, Any]:
    """Import a finished run's items into the draft (without expected_output: the run's output is expected)."""
    expected = (body.expected_output,) if "expected_output" in body.model_fields_set else ()
    run_item_ids = [str(parse_uuid(i, "run_item_ids")) for i in body.run_item_ids]
    did, rid = parse_uuid(dataset_id, "dataset_id"), parse_uuid(body.run_id, "run_id")
    return use.add_run(svc, did, rid, run_item_ids, expected, body.metadata)


class CsvIn(BaseModel):
    csv: str
    input_column: str | None = None
    expected_output_column: str | None = None
    split_column: str | None = None
    metadata_column: str | None = None
    events_column: str | None = None
    tags_column: str | None = None
    source_run_id_column: str | None = None
    source_ref_column: str | None = None
    source_ref: str | None = None
    delimiter: str = ","
    header: StrictBool = True
    partial: StrictBool = True


@router.post("/datasets/{dataset_id}/csv", status_code=201, response_model=CsvUpload)
def upload_csv(dataset_id: str, body: CsvIn, svc: ServicesDep) -> dict[str, Any]:
    """Add CSV rows to the draft (``datasets upload-csv``); partial by default, bad rows reported."""
    fields = body.model_dump(exclude={"csv", "source_ref", "delimiter", "header", "partial"})
    columns = {name.removesuffix("_column"): column for name, column in fields.items() if column is not None}
    mapping = CsvMapping(columns=columns, source_ref=body.source_ref, delimiter=body.delimiter, header=body.header)
    return use.upload_csv(svc, parse_uuid(dataset_id, "dataset_id"), body.csv, mapping, body.partial)


@router.get("/datasets/{dataset_id}/dedup", response_model=DedupPreview, response_model_exclude_unset=True)
def dedup_preview(dataset_id: str, svc: ServicesDep, include_preview: bool = False) -> dict[str, Any]:
    """The draft's duplicate groups (equal canonical JSON of input and expected output)."""
    return use.preview_dedup(svc, parse_uuid(dataset_id, "dataset_id"), include_preview)


class DedupIn(BaseModel):
    remove_item_ids: list[str] | None = None


@router.post("/datasets/{dataset_id}/dedup", response_model=DedupApplied)
def dedup_apply(dataset_id: str, body: DedupIn, svc: ServicesDep) -> dict[str, Any]:
    """Remove the draft's duplicates: all but the earliest of each group, or only ``remove_item_ids``."""
    return use.apply_dedup(svc, parse_uuid(dataset_id, "dataset_id"), body.remove_item_ids)
