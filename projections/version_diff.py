"""Two dataset versions compared in SQL, for ``services.datasets.compare``: the items added and removed (by item
id, in position order) and the pairs whose stored fields differ, without reading either version whole.

A stored field is the item's JSON as it was given (its keys in the given order), so equal text means an unchanged
field, while different text may still be the same value with its keys reordered: the caller checks those
candidates as ``domain.dataset_tools.compare_versions`` does, reading only them.
"""

from __future__ import annotations

from agnt5_evals.projections import queries
from agnt5_evals.projections.queries import CHUNK
from agnt5_evals.projections.views import EvalsView, Row

LIVE = "{side}.version_id = ? AND {side}.live = 1"
ALONE = (
    "SELECT x.item_id FROM {p}dataset_items x WHERE x.version_id = ? AND x.live = 1 AND NOT EXISTS (SELECT 1 FROM "
    "{p}dataset_items y WHERE y.version_id = ? AND y.live = 1 AND y.item_id = x.item_id) ORDER BY x.position"
)
PAIRED = (
    " FROM {p}dataset_items b JOIN {p}dataset_items a ON a.version_id = ? AND a.live = 1 AND a.item_id = b.item_id"
    " WHERE b.version_id = ? AND b.live = 1"
)
DIFFERS = (
    " AND (a.input <> b.input OR a.expected_output <> b.expected_output OR a.metadata <> b.metadata"
    " OR a.events <> b.events OR (a.split IS NULL) <> (b.split IS NULL) OR a.split <> b.split)"
)


def alone(view: EvalsView, version_id: str, other_id: str) -> list[str]:
    """The item ids of ``version_id`` that ``other_id`` does not have, in position order."""
    return [row["item_id"] for row in view.query(ALONE, (version_id, other_id))]


def paired(view: EvalsView, base_id: str, compare_id: str) -> int:
    """How many item ids both versions have."""
    return int(view.query("SELECT COUNT(*) AS n" + PAIRED, (base_id, compare_id))[0]["n"])


def differing(view: EvalsView, base_id: str, compare_id: str) -> list[str]:
    """The item ids both versions have whose stored fields differ as text, in the compare version's order."""
    sql = "SELECT b.item_id" + PAIRED + DIFFERS + " ORDER BY b.position"
    return [row["item_id"] for row in view.query(sql, (base_id, compare_id))]


def items_at(view: EvalsView, version_id: str, positions: list[int]) -> dict[int, Row]:
    """A version's live items at these positions, decoded, by position."""
    out: dict[int, Row] = {}
    for start in range(0, len(positions), CHUNK):
        chunk = positions[start : start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        sql = f"SELECT * FROM {{p}}dataset_items WHERE version_id = ? AND live = 1 AND position IN ({marks})"
        out.update((int(row["position"]), row) for row in queries._rows(view, sql, version_id, *chunk))
    return out
