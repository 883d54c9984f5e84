"""Response bodies of datasets, their versions, items, comparisons, CSV uploads and dedup (see ``api.schemas``)."""

from __future__ import annotations

from pydantic import Field

from agnt5_evals.api.schemas import AT, RUN, Absent, Id, Json, Schema, Timestamp, examples

DS, VERSION = "ab83726b-da64-45d3-b2f2-d3426355f719", "2d887fd4-3f1e-51a9-ba97-555a135fa1d8"
ITEM_ID, OTHER_ITEM = "d6d58f61-b65b-49c9-9a98-f968a6a461b9", "0522fd9e-7ebf-42a2-bc7f-afb1a749e86f"
DEPLOYMENT, PROMPT = "ef871207-3bdf-4024-b973-efb784b592d2", "76eee9e4-6637-4189-b34e-077704fb86fc"
DATASET = {"id": DS, "name": "orders", "description": "", "metadata": {"owner": "support"}, "draft_items": 2,
           "versions": 1, "created_at": AT, "archived": False}  # fmt: skip
DATASET_VERSION = {"id": VERSION, "dataset_id": DS, "number": 1, "description": "", "metadata": {}, "n_items": 2,
                   "created_at": AT}  # fmt: skip


class Dataset(Schema):
    """A dataset: its draft's size and how many versions it published."""

    model_config = examples(DATASET)
    id: Id
    name: str
    description: str
    metadata: dict[str, Json]
    draft_items: int
    versions: int
    created_at: Timestamp
    archived: bool = Field(description="hidden from lists (archived=true shows it); still readable by id or name")


class ItemsAdded(Schema):
    """How many items went into the draft, and the dataset after."""

    model_config = examples({"added": 2, **DATASET})
    added: int
    id: Id
    name: str
    description: str
    metadata: dict[str, Json]
    draft_items: int
    versions: int
    created_at: Timestamp
    archived: bool


class ItemRemoved(Schema):
    """The item removed from the draft, and the draft's size after."""

    model_config = examples({"id": DS, "item_id": ITEM_ID, "draft_items": 1})
    id: Id
    item_id: str
    draft_items: int


class DraftRestored(Dataset):
    """The dataset after its draft was reset to a version's items."""

    model_config = examples({**DATASET, "restored_version_id": VERSION})
    restored_version_id: Id


class DatasetVersion(Schema):
    """An immutable published version of a dataset."""

    model_config = examples(DATASET_VERSION)
    id: Id
    dataset_id: Id
    number: int
    description: str
    metadata: dict[str, Json]
    n_items: int
    created_at: Timestamp


class DraftItem(Schema):
    """One item of a dataset's draft, as ``datasets add-example`` added it (``id`` is the item id)."""

    model_config = examples({"id": ITEM_ID, "dataset_id": DATASET["id"], "item_id": ITEM_ID, "seq": 3,
                             "input": {"order_id": 1}, "expected_output": "shipped", "metadata": {}, "events": [],
                             "split": "test"})  # fmt: skip
    id: str
    dataset_id: Id
    item_id: str
    seq: int
    input: Json
    expected_output: Json
    metadata: dict[str, Json]
    events: list[Json]
    split: str | None


class DatasetItem(Schema):
    """One item of a published version."""

    model_config = examples({"version_id": VERSION, "position": 0, "chunk_id": "c5f16c7b-9ef7-409a-aa78-829035ba4780",
                             "item_id": ITEM_ID, "input": {"order_id": 1}, "expected_output": "shipped",
                             "metadata": {}, "events": [], "split": "test", "live": 1})  # fmt: skip
    version_id: Id
    position: int
    chunk_id: Id
    item_id: str
    input: Json
    expected_output: Json
    metadata: dict[str, Json]
    events: list[Json]
    split: str | None
    live: int


class ExportedItem(Schema):
    """One line of a version's export: an item in the upload format, with its id."""

    model_config = examples({"input": {"order_id": 1}, "expected_output": "shipped", "metadata": {}, "events": [],
                             "split": None, "id": ITEM_ID})  # fmt: skip
    input: Json
    expected_output: Json
    metadata: dict[str, Json]
    events: list[Json]
    split: str | None
    id: str


class ItemRef(Schema):
    """An item id."""

    model_config = examples({"id": ITEM_ID})
    id: str


class ChangedItem(Schema):
    """An item in both versions, with the fields that differ."""

    model_config = examples({"id": ITEM_ID, "fields": ["expected_output"]})
    id: str
    fields: list[str]


class VersionComparison(Schema):
    """Items added, removed and changed from one version of a dataset to another, paired by item id."""

    model_config = examples({"base_version_id": VERSION, "base_number": 1,
                             "compare_version_id": "a4236d5b-954c-5a73-9f33-f5303dfeb2a5", "compare_number": 2,
                             "added": [{"id": OTHER_ITEM}], "removed": [],
                             "changed": [{"id": ITEM_ID, "fields": ["expected_output"]}], "unchanged": 1})  # fmt: skip
    base_version_id: Id
    base_number: int
    compare_version_id: Id
    compare_number: int
    added: list[ItemRef]
    removed: list[ItemRef]
    changed: list[ChangedItem]
    unchanged: int


class Example(Schema):
    """An item as ``examples list`` shows it: sizes and keys, and with ``include_payload`` the item itself."""

    model_config = examples(
        {"id": ITEM_ID, "position": 0, "split": "test", "metadata_keys": ["source"], "input_bytes": 14,
         "expected_output_bytes": 9, "events": 0},
        {"id": ITEM_ID, "position": 0, "split": "test", "metadata_keys": ["source"], "input_bytes": 14,
         "expected_output_bytes": 9, "events": [], "input": {"order_id": 1}, "expected_output": "shipped",
         "metadata": {"source": "tickets"}},
    )  # fmt: skip
    id: str
    position: int
    split: str | None
    metadata_keys: list[str]
    input_bytes: int
    expected_output_bytes: int
    events: int | list[Json] = Field(description="the number of trace events; the events with include_payload")
    input: Json = Field(None, description="with include_payload")
    expected_output: Json = Field(None, description="with include_payload")
    metadata: dict[str, Json] | Absent = Field(None, description="with include_payload")


class RunImported(Schema):
    """A run's items imported into the draft."""

    model_config = examples({"id": DS, "added": 10, "source_run_id": RUN, "draft_items": 12})
    id: Id
    added: int
    source_run_id: Id
    draft_items: int


class CsvRowError(Schema):
    """A CSV row that was not imported."""

    model_config = examples({"line": 3, "field": "metadata", "message": "line 3: metadata: must be a JSON object"})
    line: int
    field: str
    message: str


class CsvUpload(Schema):
    """CSV rows imported into the draft, and the bad rows left out."""

    model_config = examples({"id": DS, "rows": 3, "added": 2, "draft_items": 4, "errors": [
        {"line": 3, "field": "metadata", "message": "line 3: metadata: must be a JSON object"}]})  # fmt: skip
    id: Id
    rows: int
    added: int
    errors: list[CsvRowError]
    draft_items: int


class GroupMember(Schema):
    """A draft item of a duplicate group, with its position in the draft."""

    model_config = examples({"id": ITEM_ID, "position": 2})
    id: str
    position: int


class DuplicateGroup(Schema):
    """Draft items with equal input and expected output: the earliest is kept."""

    model_config = examples({"group": 1, "size": 2, "keep": ITEM_ID, "remove": [OTHER_ITEM],
                             "items": [{"id": ITEM_ID, "position": 2}, {"id": OTHER_ITEM, "position": 3}],
                             "input": {"order_id": 1}, "expected_output": None})  # fmt: skip
    group: int
    size: int
    keep: str
    remove: list[str]
    items: list[GroupMember]
    input: Json = Field(None, description="with include_preview")
    expected_output: Json = Field(None, description="with include_preview")


class DedupPreview(Schema):
    """The draft's duplicate groups."""

    model_config = examples({"id": DS, "draft_items": 4, "groups": [
        {"group": 1, "size": 2, "keep": ITEM_ID, "remove": [OTHER_ITEM],
         "items": [{"id": ITEM_ID, "position": 2}, {"id": OTHER_ITEM, "position": 3}]}], "duplicates": 1})  # fmt: skip
    id: Id
    draft_items: int
    groups: list[DuplicateGroup]
    duplicates: int


class DedupApplied(Schema):
    """The duplicates removed from the draft."""

    model_config = examples({"id": DS, "removed": 1, "removed_item_ids": [OTHER_ITEM], "draft_items": 3})
    id: Id
    removed: int
    removed_item_ids: list[str]
    draft_items: int
