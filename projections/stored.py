"""Row operations straight from stored events, for a rebuild's first pass (``catchup.catch_up`` of a bulk view).

A rebuild reads every event of the log; most of what it writes comes from a run's ``RunChunk.ItemsRecorded`` (a
chunk's items and their scores). The usual path decodes each into the library's domain event object, then a
handler's generators turn it into operations. Here the stored state is decoded exactly as the application's mapper
decodes it (its cipher, compressor and transcoder, then the event class's upcasters), and the operations are built
from that dict by the same expressions as the handlers', without an event object or a generator per event and
score. The operations are the handlers' own, value for value (``tests/projections/test_rebuild_bulk.py`` compares
them and the rebuilt view); any other event type goes the usual way.

The JSON columns are re-encoded from the decoded values (``handlers.j``), not sliced out of the stored bytes: the
stored bytes are not always the column's encoding (``metadata: null`` is stored, ``{}`` written; an event written
by another transcoder has other whitespace or float spellings), and orjson's encoding of a decoded value is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, cast

from eventsourcing.persistence import Mapper, StoredEvent, find_id_convertor
from eventsourcing.utils import resolve_topic

from agnt5_evals.projections.handlers import (
    INSERT_UPLOAD_ITEM,
    INSERT_VERSION_ITEM,
    Op,
    item_ops,
    j,
    operations,
)

State = dict[str, Any]


def item_recorded(state: State) -> list[Op]:
    """``handlers._item_recorded``: one run item recorded before ``ItemsRecorded`` existed."""
    return item_ops(state, str(state["timestamp"].isoformat()))


def items_recorded(state: State) -> list[Op]:
    """``handlers._items_recorded``: a run chunk's items, their scores and their share of the run's aggregates."""
    at = str(state["timestamp"].isoformat())
    return [op for item in state["items"] for op in item_ops(item, at)]


def _item(item: dict[str, Any]) -> tuple[Any, ...]:
    """``handlers._item_row``."""
    return (
        item["id"], j(item["input"]), j(item.get("expected_output")), j(item.get("metadata") or {}),
        j(item.get("events") or []), item.get("split"),
    )  # fmt: skip


def upload_chunk(state: State) -> list[Op]:
    """``handlers._upload_chunk``: an upload's staged items."""
    upload_id, chunk_id, start = str(state["upload_id"]), str(state["originator_id"]), state["start"]
    return [
        (INSERT_UPLOAD_ITEM, (upload_id, start + n, chunk_id, *_item(item))) for n, item in enumerate(state["items"])
    ]


def version_chunk(state: State) -> list[Op]:
    """``handlers._version_chunk``: a published version's items."""
    version_id, chunk_id, start = str(state["dataset_version_id"]), str(state["originator_id"]), state["start"]
    return [
        (INSERT_VERSION_ITEM, (version_id, start + n, chunk_id, *_item(item), version_id))
        for n, item in enumerate(state["items"])
    ]


FAST: dict[str, Callable[[State], list[Op]]] = {
    "RunChunk.ItemRecorded": item_recorded,
    "RunChunk.ItemsRecorded": items_recorded,
    "UploadChunk.Created": upload_chunk,
    "DatasetVersionChunk.Created": version_chunk,
}


def reader(mapper: Mapper[Any]) -> Callable[[StoredEvent], list[Op]]:
    """A function from a stored event to its row operations: ``handlers.operations`` of the mapper's domain event,
    built without the event object for the types in ``FAST``."""
    cipher, compressor, decode = mapper.cipher, mapper.compressor, mapper.transcoder.decode

    def read(stored: StoredEvent) -> list[Op]:
        cls = resolve_topic(stored.topic)
        fast = FAST.get(cls.__qualname__)
        if fast is None:
            return list(operations(mapper.to_domain_event(stored)))
        try:
            data = stored.state
            if cipher is not None:
                data = cipher.decrypt(data)
            if compressor is not None:
                data = compressor.decompress(data)
            state: State = decode(data)
            id_type = cast(Hashable, type(stored.originator_id))  # as the mapper calls it
            state["originator_id"] = find_id_convertor(cls, id_type)(stored.originator_id)
            state["originator_version"] = stored.originator_version
            version, current = state.pop("class_version", 1), getattr(cls, "class_version", 1)
            while version < current:  # the mapper's upcasting, on the dict
                getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
                version += 1
            return fast(state)
        except Exception:  # undecodable, or a field missing: the usual path, to fail (or not) exactly as it does
            return list(operations(mapper.to_domain_event(stored)))

    return read
