"""The Studio's dataset reads: bounded pages of datasets, a version's items and the draft (never all of them).

A version's items are found by position through the primary key ``(version_id, chunk_id, position)``: the
version's chunk map (each chunk's first and last position; one index-only query, then kept in memory, since a
published version never changes) names the chunks of a position range, whose rows are then read by key. Positions
of a published version run from 0 without gaps, so a page is a position range. A filter (split, text) reads
windows of positions until the page is full or a bound is reached (``MAX_SCAN`` positions, ``SCAN_BUDGET_S``),
and says where it stopped; the next request goes on from there. Every query checks the project the way
``projections.queries`` does.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from agnt5_evals.projections.queries import _in_project, _rows, _scoped
from agnt5_evals.projections.views import EvalsView, Row

SCAN_WINDOW = 2_500  # positions one filtered query reads
MAX_SCAN = 50_000  # positions one filtered page reads at most ...
SCAN_BUDGET_S = 0.03  # ... and it starts no new window after this long (then: "search on from here")
MAX_OFFSET = 10_000_000  # a page number beyond any real draft or list
_CHUNK_MAPS: OrderedDict[str, list[tuple[str, int, int]]] = OrderedDict()  # version id -> chunks (immutable)
_CACHED_VERSIONS = 256


def like_pattern(text: str) -> str:
    """``%text%`` for ``LIKE ... ESCAPE '\\'``, lower-cased, its own ``%``, ``_`` and ``\\`` taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def datasets(view: EvalsView, search: str, offset: int, limit: int) -> list[Row]:
    """Not archived datasets, newest first, whose name contains ``search``; ``limit`` rows from ``offset``."""
    where, scope = _in_project()
    sql = (
        "SELECT * FROM {p}datasets WHERE archived = 0 AND LOWER(name) LIKE ? ESCAPE '\\'"
        + where
        + " ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
    )
    return _rows(view, sql, like_pattern(search), *scope, limit, min(offset, MAX_OFFSET))


def _chunks(view: EvalsView, version_id: str) -> list[tuple[str, int, int]]:
    """A version's chunks as (chunk id, first, last position), in order: one index-only query, then kept (a
    published version never changes; its id is unique)."""
    chunks = _CHUNK_MAPS.get(version_id)
    if chunks is None:
        sql = (
            "SELECT chunk_id, MIN(position) AS first, MAX(position) AS last FROM {p}dataset_items "
            "WHERE version_id = ? GROUP BY chunk_id"
        )
        rows = view.query(sql, (version_id,))
        chunks = sorted(((row["chunk_id"], row["first"], row["last"]) for row in rows), key=lambda c: c[1])
        _CHUNK_MAPS[version_id] = chunks
        while len(_CHUNK_MAPS) > _CACHED_VERSIONS:
            _CHUNK_MAPS.popitem(last=False)
    return chunks


def _window(view: EvalsView, version_id: str, chunks: list[tuple[str, int, int]], start: int, end: int,
            extra: str = "", params: tuple[Any, ...] = (), limit: int = 0) -> list[Row]:  # fmt: skip
    """The live items at positions ``[start, end)`` (of ``chunks``) that match ``extra``, in order, at most
    ``limit``."""
    ids = [chunk_id for chunk_id, first, last in chunks if first < end and last >= start]
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    sql = (
        f"SELECT * FROM {{p}}dataset_items WHERE version_id = ? AND chunk_id IN ({marks}) AND position >= ? "
        f"AND position < ? AND live = 1{extra} ORDER BY position LIMIT ?"
    )
    return _rows(view, sql, version_id, *ids, start, end, *params, limit or end - start)


def version_items(view: EvalsView, version_id: str, offset: int, limit: int) -> list[Row]:
    """The items at positions ``offset`` .. ``offset + limit - 1`` of a version."""
    _scoped(view, "dataset_versions", "dataset version", version_id)
    return _window(view, version_id, _chunks(view, version_id), offset, offset + limit)


@dataclass
class Found:
    """One filtered page: the matching items, where the next page starts (None: the version's end was reached),
    and the positions read (``start`` .. ``scanned_to - 1``)."""

    items: list[Row]
    next_start: int | None
    start: int
    scanned_to: int


def search_items(view: EvalsView, version_id: str, n_items: int, start: int, limit: int, split: str = "",
                 text: str = "") -> Found:  # fmt: skip
    """Up to ``limit`` items from position ``start`` on whose split is ``split`` and whose input or expected
    output JSON text holds ``text`` (case-insensitive); reads windows of positions until a page is full, the
    version ends, ``MAX_SCAN`` positions were read or ``SCAN_BUDGET_S`` is spent."""
    _scoped(view, "dataset_versions", "dataset version", version_id)
    extra, params = "", ()  # type: tuple[str, tuple[Any, ...]]
    if split:
        extra, params = " AND split = ?", (split,)
    if text:
        pattern = like_pattern(text)
        extra += " AND (LOWER(input) LIKE ? ESCAPE '\\' OR LOWER(expected_output) LIKE ? ESCAPE '\\')"
        params += (pattern, pattern)
    found: list[Row] = []
    at = start = max(start, 0)
    chunks, began = _chunks(view, version_id), time.monotonic()
    while at < n_items and at - start < MAX_SCAN and (at == start or time.monotonic() - began < SCAN_BUDGET_S):
        end = min(at + SCAN_WINDOW, n_items)
        found += _window(view, version_id, chunks, at, end, extra, params, limit + 1 - len(found))
        if len(found) > limit:
            return Found(found[:limit], found[limit]["position"], start, found[limit]["position"])
        at = end
    return Found(found, at if at < n_items else None, start, at)


def draft_items(view: EvalsView, dataset_id: str, offset: int, limit: int) -> list[Row]:
    """The draft's items ``offset`` .. ``offset + limit - 1`` in draft order (the ``(dataset_id, seq)`` index)."""
    _scoped(view, "datasets", "dataset", dataset_id)
    if offset:  # the page's first seq from the index alone, then its rows
        sql = "SELECT seq FROM {p}draft_items WHERE dataset_id = ? ORDER BY seq LIMIT 1 OFFSET ?"
        first = view.query(sql, (dataset_id, min(offset, MAX_OFFSET)))
        if not first:
            return []
        sql = "SELECT * FROM {p}draft_items WHERE dataset_id = ? AND seq >= ? ORDER BY seq LIMIT ?"
        return _rows(view, sql, dataset_id, first[0]["seq"], limit)
    return _rows(view, "SELECT * FROM {p}draft_items WHERE dataset_id = ? ORDER BY seq LIMIT ?", dataset_id, limit)


def draft_item(view: EvalsView, dataset_id: str, item_id: str) -> Row | None:
    """One item of the draft, or None."""
    _scoped(view, "datasets", "dataset", dataset_id)
    rows = _rows(view, "SELECT * FROM {p}draft_items WHERE dataset_id = ? AND item_id = ?", dataset_id, item_id)
    return rows[0] if rows else None
