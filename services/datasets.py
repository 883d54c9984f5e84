"""Dataset use cases shared by the CLI and the REST API: export, compare, examples, add-run, CSV, dedup."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.csv_import import CsvMapping, parse_csv
from agnt5_evals.domain.dataset_tools import changed_fields, dedup_preview, example_row, item_shape
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.lazy import LazyModule
from agnt5_evals.projections import queries, vectors, version_diff

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")  # imported on first use (domain.lazy)


def version_of(svc: Services, dataset_id: UUID, version_id: UUID, arg: str = "version_id") -> dict[str, Any]:
    """A version row, checked to belong to the dataset (which must exist)."""
    queries.dataset(svc.view, str(dataset_id))
    try:
        version = queries.dataset_version(svc.view, str(version_id))
    except NotFound as exc:
        raise NotFound(exc.message, field=arg) from None
    if version["dataset_id"] != str(dataset_id):
        raise Invalid(f"version {version_id} belongs to another dataset", field=arg)
    return version


def export_items(svc: Services, dataset_id: UUID, version_id: UUID) -> list[dict[str, Any]]:
    """A version's items in the upload shape, with their ids: uploading them gives the same items."""
    version = version_of(svc, dataset_id, version_id)
    return [item_shape(item) for item in queries.version_items(svc.view, version["id"])]


def compare(svc: Services, dataset_id: UUID, base_id: UUID, compare_id: UUID) -> dict[str, Any]:
    """Items added, removed and changed (with the fields that differ) from one version to another."""
    base = version_of(svc, dataset_id, base_id, "base_version_id")
    other = version_of(svc, dataset_id, compare_id, "compare_version_id")
    result = _compare(svc, base["id"], other["id"])
    head = {"base_version_id": base["id"], "base_number": base["number"], "compare_version_id": other["id"],
            "compare_number": other["number"]}  # fmt: skip
    return {**head, **result}


def _compare(svc: Services, base_id: str, compare_id: str) -> dict[str, Any]:
    """``domain.dataset_tools.compare_versions`` of two versions, from their vectors (``projections.vectors``)
    or else counted in SQL (``projections.version_diff``): only the items that may have changed are read, to name
    the fields that changed in value."""
    from_vectors = _vector_compare(svc, base_id, compare_id)
    return _compare_in_sql(svc, base_id, compare_id) if from_vectors is None else from_vectors


def _compare_in_sql(svc: Services, base_id: str, compare_id: str) -> dict[str, Any]:
    view = svc.view
    candidates = version_diff.differing(view, base_id, compare_id)
    before = queries.dataset_items_by_id(view, base_id, candidates)
    after = queries.dataset_items_by_id(view, compare_id, candidates)
    changed = [{"id": i, "fields": fields} for i in candidates if (fields := changed_fields(before[i], after[i]))]
    return {
        "added": [{"id": i} for i in version_diff.alone(view, compare_id, base_id)],
        "removed": [{"id": i} for i in version_diff.alone(view, base_id, compare_id)],
        "changed": changed,
        "unchanged": version_diff.paired(view, base_id, compare_id) - len(changed),
    }


def _vector_compare(svc: Services, base_id: str, compare_id: str) -> dict[str, Any] | None:
    """Two versions compared by their items' id and field digests; None when either has no vector, or when
    their 64-bit id prefixes repeat or match ids that differ (then the SQL path decides)."""
    view = svc.view
    a, b = vectors.load_version(view, base_id), vectors.load_version(view, compare_id)
    if a is None or b is None:
        return None
    ka, kb = a.ids[:, 0], b.ids[:, 0]
    order = np.argsort(ka)
    sorted_a, sorted_b = ka[order], np.sort(kb)
    if (sorted_a[1:] == sorted_a[:-1]).any() or (sorted_b[1:] == sorted_b[:-1]).any():
        return None
    at = np.minimum(np.searchsorted(sorted_a, kb), max(ka.size - 1, 0))
    in_b = sorted_a[at] == kb if ka.size else np.zeros(kb.size, dtype=np.bool_)
    ib = np.flatnonzero(in_b)  # the common items, in the compare version's order
    ia = order[at[in_b]]
    if not np.array_equal(a.ids[ia, 1], b.ids[ib, 1]):
        return None
    in_a = np.zeros(ka.size, dtype=np.bool_)
    in_a[ia] = True
    differs = (a.fields[ia] != b.fields[ib]).any(axis=1)
    was = [int(p) for p in a.position[ia[differs]]]
    now = [int(p) for p in b.position[ib[differs]]]
    added = [int(p) for p in b.position[~in_b]]
    removed = [int(p) for p in a.position[~in_a]]
    before, after = (
        version_diff.items_at(view, base_id, was + removed),
        version_diff.items_at(view, compare_id, now + added),
    )
    changed = []
    for p, q in zip(was, now, strict=True):
        fields = changed_fields(before[p], after[q])
        if fields:
            changed.append({"id": str(after[q]["item_id"]), "fields": fields})
    return {
        "added": [{"id": str(after[p]["item_id"])} for p in added],
        "removed": [{"id": str(before[p]["item_id"])} for p in removed],
        "changed": changed,
        "unchanged": int(ia.size) - len(changed),
    }


def examples(
    svc: Services, dataset_id: UUID, number: int | None = None, draft: bool = False, include_payload: bool = False
) -> list[dict[str, Any]]:
    """The items of version ``number`` (default: the latest), or of the draft, as summaries or in full."""
    if draft:
        if number is not None:
            raise Invalid("give one of them", field="version, draft")
        queries.dataset(svc.view, str(dataset_id))
        rows = queries.draft_items(svc.view, str(dataset_id))
        return [example_row({**row, "position": n}, include_payload) for n, row in enumerate(rows)]
    versions = queries.dataset_versions(svc.view, str(dataset_id))
    if not versions:
        raise NotFound(f"dataset {dataset_id} has no published version yet", field="dataset_id")
    chosen = versions[-1] if number is None else next((v for v in versions if v["number"] == number), None)
    if chosen is None:
        raise NotFound(
            f"dataset {dataset_id} has no version {number} (latest: {versions[-1]['number']})", field="version"
        )
    return [example_row(item, include_payload) for item in queries.version_items(svc.view, chosen["id"])]


def run_items_for_dataset(
    svc: Services,
    run_id: UUID,
    run_item_ids: list[str],
    expected_output: tuple[Any, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A finished run's items (all, or those chosen) as dataset items: the dataset item's input and split, the run
    item's trace events, and as expected output ``expected_output[0]`` if given, else the run's recorded output
    (then kept in metadata as ``source_output``)."""
    try:
        run = queries.run(svc.view, str(run_id))
    except NotFound as exc:
        raise NotFound(exc.message, field="run_id") from None
    if run["status"] == "running":
        raise Conflict(f"run {run_id} is still running; wait for it to finish first", field="run_id")
    items = queries.run_items(svc.view, run["id"])
    if run_item_ids:
        items = queries.chosen_run_items(items, run_item_ids, run["id"])
    if not items:
        raise Conflict(f"run {run_id} recorded no items; there is nothing to import", field="run_id")
    out = []
    for item in items:
        source = queries.dataset_item(svc.view, run["dataset_version_id"], item["dataset_item_id"])
        extra = {"source_output": item["output"]} if expected_output else {}
        out.append({
            "input": source["input"],
            "expected_output": expected_output[0] if expected_output else item["output"],
            "metadata": {**source["metadata"], **(metadata or {}), **extra, "source_run_id": run["id"],
                         "source_run_item_id": item["id"], "source_dataset_item_id": item["dataset_item_id"]},
            "events": item["events"],
            "split": source["split"],
        })  # fmt: skip
    return out


def add_run(
    svc: Services,
    dataset_id: UUID,
    run_id: UUID,
    run_item_ids: list[str],
    expected_output: tuple[Any, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Import a finished run's items into the draft (see ``run_items_for_dataset``)."""
    queries.dataset(svc.view, str(dataset_id))
    written = svc.app.add_items(dataset_id, run_items_for_dataset(svc, run_id, run_item_ids, expected_output, metadata))
    svc.wait_for(written.position)
    return {"id": str(dataset_id), "added": written.number, "source_run_id": str(run_id),
            "draft_items": queries.dataset(svc.view, str(dataset_id))["draft_items"]}  # fmt: skip


def upload_csv(svc: Services, dataset_id: UUID, text: str, mapping: CsvMapping, partial: bool = True) -> dict[str, Any]:
    """Import CSV rows into the draft. Partial: the valid rows, each bad row reported; else all rows or none."""
    queries.dataset(svc.view, str(dataset_id))
    result = parse_csv(text, mapping)
    errors = [{"line": e.line, "field": e.field, "message": str(e)} for e in result.errors]
    if result.errors and (not partial or not result.items):
        more = f" (and {len(errors) - 1} more bad rows)" if len(errors) > 1 else ""
        why = "" if not partial else "no valid rows: "
        raise Invalid(f"{why}{result.errors[0]}{more}; nothing was imported", field="file")
    written = svc.app.add_items(dataset_id, result.items)
    svc.wait_for(written.position)
    return {"id": str(dataset_id), "rows": result.rows, "added": written.number, "errors": errors,
            "draft_items": queries.dataset(svc.view, str(dataset_id))["draft_items"]}  # fmt: skip


def restore_draft(svc: Services, dataset_id: UUID, version_id: UUID) -> dict[str, Any]:
    """Make the draft exactly a version's items."""
    version_of(svc, dataset_id, version_id)
    written = svc.app.restore_draft(dataset_id, version_id)
    svc.wait_for(written.position)
    return {**queries.dataset(svc.view, str(dataset_id)), "restored_version_id": str(version_id)}


def preview_dedup(svc: Services, dataset_id: UUID, include_preview: bool = False) -> dict[str, Any]:
    """The draft's duplicate groups (equal canonical JSON of input and expected output)."""
    queries.dataset(svc.view, str(dataset_id))
    preview = dedup_preview(queries.draft_items(svc.view, str(dataset_id)), include_preview)
    return {"id": str(dataset_id), **preview}


def apply_dedup(svc: Services, dataset_id: UUID, item_ids: list[str] | None = None) -> dict[str, Any]:
    """Remove the draft's duplicates: all but the earliest of each group, or only ``item_ids``."""
    written, removed = svc.app.dedup_draft(dataset_id, item_ids)
    svc.wait_for(written.position)
    return {"id": str(dataset_id), "removed": len(removed), "removed_item_ids": removed,
            "draft_items": queries.dataset(svc.view, str(dataset_id))["draft_items"]}  # fmt: skip


def create_dataset(
    svc: Services, name: str, description: str = "", metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Create a dataset with an empty draft; returns its row."""
    written = svc.app.create_dataset(name, description, metadata)
    svc.wait_for(written.position)
    return queries.dataset(svc.view, str(written.id))


def add_items(svc: Services, dataset_id: UUID, items: list[Any]) -> dict[str, Any]:
    """Add items to the draft, all or none; returns the dataset's row with ``added``."""
    written = svc.app.add_items(dataset_id, items)
    svc.wait_for(written.position)
    return {"id": str(dataset_id), "added": written.number, **queries.dataset(svc.view, str(dataset_id))}


def add_example(svc: Services, dataset_id: UUID, item: dict[str, Any]) -> dict[str, Any]:
    """Add one item to the draft; returns its draft row with ``id`` (the item id)."""
    written = svc.app.add_items(dataset_id, [item])
    svc.wait_for(written.position)
    row = queries.draft_items(svc.view, str(dataset_id))[-1]
    return {"id": row["item_id"], **row}


def remove_item(svc: Services, dataset_id: UUID, item_id: str) -> dict[str, Any]:
    """Remove one item from the draft (404 naming ``item_id`` when the draft has no such item)."""
    written = svc.app.remove_item(dataset_id, item_id)
    svc.wait_for(written.position)
    return {"id": str(dataset_id), "item_id": item_id,
            "draft_items": queries.dataset(svc.view, str(dataset_id))["draft_items"]}  # fmt: skip


def replace_item(svc: Services, dataset_id: UUID, item_id: str, item: Any) -> dict[str, Any]:
    """Edit one draft item: the same id with new values (validated as an added item); returns the dataset's row."""
    written = svc.app.replace_item(dataset_id, item_id, item)
    svc.wait_for(written.position)
    return queries.dataset(svc.view, str(dataset_id))


def publish(
    svc: Services, dataset_id: UUID, description: str = "", metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Publish the draft as the next numbered, immutable version; returns the version's row."""
    written = svc.app.publish(dataset_id, description, metadata)
    svc.wait_for(written.position)
    return queries.dataset_version(svc.view, str(written.id))
