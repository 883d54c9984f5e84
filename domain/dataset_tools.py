"""Pure rules over dataset items: the export shape, duplicates, version comparison and item summaries.

A duplicate is an item whose canonical JSON of ``[input, expected_output]`` (keys sorted, no whitespace) equals
an earlier item's: metadata, events, split and id do not count, and ``1`` and ``1.0`` differ (JSON text does).
"""

from __future__ import annotations

from typing import Any

import orjson

from agnt5_evals.domain.errors import Invalid, NotFound

ITEM_FIELDS = ("input", "expected_output", "metadata", "events", "split")


def item_shape(item: dict[str, Any]) -> dict[str, Any]:
    """One item as the upload format takes it (spec 1.2), with its id: what an export line holds."""
    return {**{field: item[field] for field in ITEM_FIELDS}, "id": item.get("item_id", item.get("id"))}


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def duplicate_key(item: dict[str, Any]) -> bytes:
    return _canonical([item["input"], item.get("expected_output")])


def duplicate_groups(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Groups of two or more duplicates, each in draft order (earliest first), ordered by their earliest item."""
    groups: dict[bytes, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(duplicate_key(item), []).append(item)
    return [group for group in groups.values() if len(group) > 1]


def _item_id(item: dict[str, Any]) -> str:
    return str(item.get("item_id", item.get("id")))


def check_removable(item_ids: list[str], groups: list[list[dict[str, Any]]], draft_ids: set[str]) -> None:
    """A targeted removal may remove duplicates only, and must leave at least one item of each group."""
    if len(set(item_ids)) != len(item_ids):
        raise Invalid("an item id is given twice", field="remove_item_ids")
    group_of = {_item_id(item): n for n, group in enumerate(groups) for item in group}
    for item_id in item_ids:
        if item_id not in draft_ids:
            raise NotFound(f"item {item_id} is not in the draft", field="remove_item_ids")
        if item_id not in group_of:
            raise Invalid(f"item {item_id} has no duplicate in the draft", field="remove_item_ids")
    chosen = set(item_ids)
    for group in groups:
        if all(_item_id(item) in chosen for item in group):
            raise Invalid(f"this would remove every copy of item {_item_id(group[0])}", field="remove_item_ids")


def dedup_preview(items: list[dict[str, Any]], include_preview: bool = False) -> dict[str, Any]:
    """The draft's duplicate groups: which item each keeps (the earliest) and which ones ``apply`` removes."""
    position = {_item_id(item): n for n, item in enumerate(items)}
    out = []
    for n, group in enumerate(duplicate_groups(items), start=1):
        members = [{"id": _item_id(item), "position": position[_item_id(item)]} for item in group]
        row: dict[str, Any] = {"group": n, "size": len(group), "keep": members[0]["id"],
                               "remove": [m["id"] for m in members[1:]], "items": members}  # fmt: skip
        if include_preview:
            row["input"], row["expected_output"] = group[0]["input"], group[0].get("expected_output")
        out.append(row)
    removable = sum(len(group["remove"]) for group in out)
    return {"draft_items": len(items), "groups": out, "duplicates": removable}


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The fields of one item whose values differ between two versions (key order does not count)."""
    return [f for f in ITEM_FIELDS if _canonical(before[f]) != _canonical(after[f])]


def compare_versions(base: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, Any]:
    """Items added, removed and changed from ``base`` to ``other``, paired by item id; changes name the fields."""
    before = {_item_id(item): item for item in base}
    after = {_item_id(item): item for item in other}
    changed = []
    for item_id, item in after.items():
        if item_id in before:
            fields = changed_fields(before[item_id], item)
            if fields:
                changed.append({"id": item_id, "fields": fields})
    return {
        "added": [{"id": i} for i in after if i not in before],
        "removed": [{"id": i} for i in before if i not in after],
        "changed": changed,
        "unchanged": sum(1 for i in after if i in before) - len(changed),
    }


def _size(value: Any) -> int:
    return len(_canonical(value))


def example_row(item: dict[str, Any], include_payload: bool = False) -> dict[str, Any]:
    """An item for ``examples list``: id, position, split, metadata keys and payload sizes (bytes of JSON)."""
    row: dict[str, Any] = {
        "id": _item_id(item),
        "position": item.get("position"),
        "split": item.get("split"),
        "metadata_keys": sorted(item.get("metadata") or {}),
        "input_bytes": _size(item["input"]),
        "expected_output_bytes": _size(item.get("expected_output")),
        "events": len(item.get("events") or []),
    }
    if include_payload:
        row.update({field: item.get(field) for field in ITEM_FIELDS})
    return row
