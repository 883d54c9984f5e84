"""Dataset commands: a draft edited in item events, published as immutable, chunked versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import orjson

from agnt5_evals.domain import digests
from agnt5_evals.domain.app_base import BaseApplication, Written
from agnt5_evals.domain.dataset_tools import check_removable, duplicate_groups
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.model import Dataset, DatasetVersion, DatasetVersionChunk, UploadChunk
from agnt5_evals.domain.text_rules import check_description, check_name, control_character

ITEMS_PER_EVENT = 500
IDS_PER_EVENT = 5000  # item ids of one removal event (~200 KB)


MAX_ITEM_BYTES = 768 * 1024  # one dataset item, encoded
MAX_EVENT_BYTES = 1024 * 1024  # the items of one event: PostgreSQL saves of a few MiB hang (psycopg pipeline)


def _batches(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Items in order, split so that no event holds more than 500 items or 1 MiB."""
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for number, item in enumerate(items, start=1):
        item_bytes = len(orjson.dumps(item))
        if item_bytes > MAX_ITEM_BYTES:
            raise Invalid(
                f"item {number}: {item_bytes:,} bytes; an item may take at most {MAX_ITEM_BYTES:,}", field="items"
            )
        if batches[-1] and (len(batches[-1]) >= ITEMS_PER_EVENT or size + item_bytes > MAX_EVENT_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += item_bytes
    return [batch for batch in batches if batch]


def check_item(raw: Any, where: str) -> dict[str, Any]:
    """Validate one dataset item ({input, expected_output?, metadata?, events?, split?})."""
    if not isinstance(raw, dict):
        raise Invalid(f"{where}: an item must be a JSON object", field="items")
    unknown = sorted(set(raw) - {"input", "expected_output", "metadata", "events", "split", "id"})
    if unknown:
        raise Invalid(f"{where}: unknown field {unknown[0]!r}", field="items")
    if "input" not in raw:
        raise Invalid(f"{where}: field 'input' is required", field="items")
    if not isinstance(raw.get("metadata", {}), dict):
        raise Invalid(f"{where}: field 'metadata' must be an object", field="items")
    if not isinstance(raw.get("events", []), list):
        raise Invalid(f"{where}: field 'events' must be an array", field="items")
    if not isinstance(raw.get("split", ""), str | None):
        raise Invalid(f"{where}: field 'split' must be a string", field="items")
    if not isinstance(raw.get("id"), str | None):  # kept exactly: a numeric 5 is not silently the id "5"
        raise Invalid(f"{where}: field 'id' must be a string (item ids are strings: write \"5\")", field="items")
    if raw.get("id") == "":  # kept exactly: an empty id is not silently replaced by a generated one
        raise Invalid(f"{where}: field 'id' must not be empty (leave it out for a generated id)", field="items")
    for key in ("id", "split"):  # stored as plain text columns: a NUL would wedge PostgreSQL's read model
        if isinstance(raw.get(key), str) and (bad := control_character(raw[key])) is not None:
            raise Invalid(f"{where}: field {key!r} must not contain control characters (found {bad!r})", field="items")
    return {
        "id": str(raw.get("id") or uuid4()),
        "input": raw["input"],
        "expected_output": raw.get("expected_output"),
        "metadata": raw.get("metadata") or {},
        "events": raw.get("events") or [],
        "split": raw.get("split"),
    }


@dataclass
class StagedUpload:
    """An upload whose items are saved in ``UploadChunk``s, not yet in the draft; ``dataset`` as it was read
    before staging (committing saves it, so a writer that changed the dataset since makes the commit fail)."""

    dataset: Dataset
    upload_id: UUID
    chunk_ids: list[str]
    n_items: int


class DatasetCommands(BaseApplication):
    """Create datasets, add items to their draft, publish versions, read a version's items."""

    def create_dataset(self, name: str, description: str = "", metadata: dict[str, Any] | None = None) -> Written:
        name, description = check_name(name), check_description(description)
        dataset = Dataset(
            name=name.strip(), description=description, metadata=metadata or {}, project_id=self.project_for_new()
        )
        return Written(dataset.id, self._save(dataset))

    def add_items(self, dataset_id: UUID, raw_items: list[Any]) -> Written:
        """Add items to the draft: all of them or, on any invalid item, any clash or a concurrent writer, none.

        Items that fit one event are saved in one ``ItemsAdded``; more are staged in ``UploadChunk``s first, each
        saved on its own (no save is large), then committed by one small ``UploadCommitted`` on the dataset.
        """
        dataset, items, draft_ids = self._checked_upload(dataset_id, raw_items)
        batches = _batches(items)
        if len(batches) == 1:
            dataset.add_items(items, draft_ids)
            return Written(dataset.id, self._save(dataset), len(items))
        return self.commit_upload(self._stage(dataset, batches))

    def stage_upload(self, dataset_id: UUID, raw_items: list[Any]) -> StagedUpload:
        """Check the items and save them in staged ``UploadChunk``s; the draft is unchanged until the commit."""
        dataset, items, _ = self._checked_upload(dataset_id, raw_items)
        return self._stage(dataset, _batches(items))

    def commit_upload(self, staged: StagedUpload) -> Written:
        """Add a staged upload to the draft with one event, or (another writer changed the dataset) nothing."""
        staged.dataset.commit_upload(staged.upload_id, staged.chunk_ids, staged.n_items)
        return Written(staged.dataset.id, self._save(staged.dataset), staged.n_items)

    def _checked_upload(self, dataset_id: UUID, raw_items: list[Any]) -> tuple[Dataset, list[dict[str, Any]], set[str]]:
        """The dataset as read now, the checked items, and the ids the draft holds (none of the items')."""
        items = [check_item(raw, f"item {n}") for n, raw in enumerate(raw_items, start=1)]
        if not items:
            raise Invalid("the input holds no items", field="items")
        seen: set[str] = set()
        for n, item in enumerate(items, start=1):
            if item["id"] in seen:
                raise Invalid(f"item {n}: id {item['id']!r} appears twice in the input", field="items")
            seen.add(item["id"])
        dataset = self.get(Dataset, dataset_id, "dataset")
        draft_ids = {item["id"] for item in self.draft_items(dataset)}
        clash = next((item["id"] for item in items if item["id"] in draft_ids), None)
        if clash is not None:  # checked before anything is saved: all or none
            raise Conflict(f"item id {clash} is already in the draft")
        return dataset, items, draft_ids

    def _stage(self, dataset: Dataset, batches: list[list[dict[str, Any]]]) -> StagedUpload:
        upload_id, chunk_ids, start = uuid4(), [], 0
        for index, part in enumerate(batches):
            chunk = UploadChunk(dataset_id=dataset.id, upload_id=upload_id, index=index, start=start, items=part)
            self._save(chunk, notify=False)  # one small save each; nothing reads a chunk until the commit
            chunk_ids.append(str(chunk.id))
            start += len(part)
        return StagedUpload(dataset, upload_id, chunk_ids, start)

    def _base_items(self, dataset: Dataset) -> list[dict[str, Any]]:
        """The items of the version the draft was restored from that are still in the draft."""
        if dataset.draft_base is None:
            return []
        removed = dataset.draft_removed
        version = self.get(DatasetVersion, dataset.draft_base, "dataset version")
        return [item for item in self.version_items(version) if item["id"] not in removed]

    def _upload_items(self, dataset: Dataset) -> list[tuple[int, list[dict[str, Any]]]]:
        """The committed uploads' items still in the draft, each upload with the edit that committed it."""
        parts = []
        for edit, chunk_ids in dataset.draft_uploads:
            items = [
                item
                for chunk_id in chunk_ids
                for item in self.get(UploadChunk, UUID(chunk_id), "upload chunk").items
                if dataset.draft_removed.get(item["id"], 0) <= edit
            ]
            parts.append((edit, items))
        return parts

    def draft_items(self, dataset: Dataset) -> list[dict[str, Any]]:
        """The draft's items in order: the restored version's remaining items, then those added and uploaded since
        (in the order of their events)."""
        parts = [(dataset.draft_added_at[item_id], [item]) for item_id, item in dataset.draft.items()]
        parts.extend(self._upload_items(dataset))
        parts.sort(key=lambda part: part[0])  # stable: one event's items keep their order
        return self._base_items(dataset) + [item for _, items in parts for item in items]

    def restore_draft(self, dataset_id: UUID, version_id: UUID) -> Written:
        """Make the draft exactly a version's items; the event references the version instead of copying it."""
        dataset = self.get(Dataset, dataset_id, "dataset")
        version = self.get(DatasetVersion, version_id, "dataset version")
        if version.dataset_id != dataset.id:
            raise Invalid(f"version {version_id} belongs to another dataset", field="version_id")
        dataset.restore_draft(version.id, version.number, version.n_items)
        return Written(dataset.id, self._save(dataset), version.n_items)

    def dedup_draft(self, dataset_id: UUID, item_ids: list[str] | None = None) -> tuple[Written, list[str]]:
        """Remove duplicates from the draft: the given ids, or every item but the earliest of each group."""
        dataset = self.get(Dataset, dataset_id, "dataset")
        items = self.draft_items(dataset)
        groups, draft_ids = duplicate_groups(items), {item["id"] for item in items}
        if item_ids is None:
            item_ids = [item["id"] for group in groups for item in group[1:]]
        elif not item_ids:
            raise Invalid("nothing to remove", field="remove_item_ids")
        else:
            check_removable(item_ids, groups, draft_ids)
        position, starts = 0, range(0, len(item_ids), IDS_PER_EVENT)
        for start in starts:
            dataset.remove_items(item_ids[start : start + IDS_PER_EVENT], draft_ids)
            position = self._save(dataset, notify=start == starts[-1])
        return Written(dataset.id, position, len(item_ids)), item_ids

    def remove_item(self, dataset_id: UUID, item_id: str) -> Written:
        """Remove one item from the draft (an ``ItemsRemoved`` event; the versions published keep it)."""
        dataset = self.get(Dataset, dataset_id, "dataset")
        draft_ids = {item["id"] for item in self.draft_items(dataset)}
        if item_id not in draft_ids:
            raise NotFound(f"item {item_id} is not in the draft of dataset {dataset_id}", field="item_id")
        dataset.remove_items([item_id], draft_ids)
        return Written(dataset.id, self._save(dataset), 1)

    def replace_item(self, dataset_id: UUID, item_id: str, raw: Any) -> Written:
        """Edit one draft item: its removal and the new item under the same id, saved together (all or none).
        The edited item moves to the end of the draft, as an item added now."""
        item = check_item(raw, "item 1")
        if "id" in raw and item["id"] != item_id:
            raise Invalid(f"item 1: field 'id' must be {item_id!r}, the id of the item edited", field="items")
        item["id"] = item_id
        _batches([item])  # the size check of every added item
        dataset = self.get(Dataset, dataset_id, "dataset")
        draft_ids = {row["id"] for row in self.draft_items(dataset)}
        if item_id not in draft_ids:
            raise NotFound(f"item {item_id} is not in the draft of dataset {dataset_id}", field="item_id")
        dataset.remove_items([item_id], draft_ids)
        dataset.add_items([item], draft_ids - {item_id})
        return Written(dataset.id, self._save(dataset), 1)

    def publish(self, dataset_id: UUID, description: str = "", metadata: dict[str, Any] | None = None) -> Written:
        """Snapshot the draft as the next numbered, immutable version."""
        description = check_description(description)
        dataset = self.get(Dataset, dataset_id, "dataset")
        dataset.check_publishable()
        number = dataset.next_version_number
        items = self.draft_items(dataset)
        chunks, start = [], 0
        for k, part in enumerate(_batches(items)):
            version_id = DatasetVersion.create_id(dataset.id, number)
            chunks.append(DatasetVersionChunk(dataset_version_id=version_id, index=k, start=start, items=part))
            start += len(part)
        for chunk in chunks:  # one small save each; unreferenced chunks of a crashed publish are inert
            self._save(chunk, notify=False)
        content_digest, chunk_digests = digests.parts_digests(chunk.items for chunk in chunks)
        version = DatasetVersion(
            dataset_id=dataset.id,
            number=number,
            description=description,
            metadata=metadata or {},
            n_items=len(items),
            chunk_ids=[str(c.id) for c in chunks],
            content_digest=content_digest,
            chunk_digests=chunk_digests,
            project_id=dataset.project_id,
        )
        dataset.record_version(version_id=version.id, number=number, n_items=len(items), description=description)
        return Written(version.id, self._save(dataset, version), number)

    def version_items(self, version: DatasetVersion) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for chunk_id in version.chunk_ids:
            items.extend(self.get(DatasetVersionChunk, UUID(chunk_id), "dataset version chunk").items)
        return items

    def dataset_version(self, dataset_id: UUID, version_id: UUID) -> DatasetVersion:
        self.get(Dataset, dataset_id, "dataset", field="dataset_id")
        version = self.get(DatasetVersion, version_id, "dataset version", field="dataset_version_id")
        if version.dataset_id != dataset_id:
            raise Invalid(f"version {version_id} belongs to another dataset", field="dataset_version_id")
        return version
