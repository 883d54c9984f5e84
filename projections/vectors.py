"""Run vectors: a finished run's verdicts and current scores as packed arrays, one row per run, so that comparing two
runs of one dataset version (``services.compare``) and an experiment's flaky items are arithmetic over a few blobs
instead of joins over every item.

Every batch the projection applies that writes a run's items or scores, ends it, or starts, records or ends a
rescore of it (``TOUCHES``) rebuilds that run's vector in the same transaction, from the rows the transaction sees,
when the run has ended and no rescore of it is running; otherwise it deletes the vector. A vector therefore always
holds what the run's rows hold (the last items of a run can reach the projection in the batch after its end: they
rebuild it again). A vector also carries a stamp (the run's status and items done, its rescores and their items
done), and a reader uses it only while the stamp is the run's (``load``); otherwise it reads the items
(``projections.pairing``).

The arrays are indexed by position. A run's positions are fixed by its dataset version and repetitions (position
``n * repetitions + r`` is repetition ``r`` of the version's ``n``-th item: ``domain.app_runs``), so two runs of one
version with the same repetitions pair position by position, exactly.

- ``status``: uint8, 0 for a position without an item, else 1 + its index in ``STATUSES``;
- ``key``: uint64, a 64-bit BLAKE2b digest of the position's (dataset item id, repetition), 0 where there is no
  item: a reader pairs two runs by position only where their keys agree (runs written outside the domain's
  positions are read from their items);
- ``rank``: int32, the item's place in (dataset item id, repetition) order, bytewise as Python sorts str (-1 where
  there is no item): the order in which flips are listed;
- per scorer with a current score: ``score`` (float64, 0 where none) and ``flags`` (uint8: ``PRESENT``, ``PASSED``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from agnt5_evals.domain.lazy import LazyModule
from agnt5_evals.projections import handlers

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = LazyModule("numpy")  # imported on first use (domain.lazy)

if TYPE_CHECKING:
    from agnt5_evals.projections.views import EvalsView

STATUSES = ("passed", "failed", "errored")
PRESENT, PASSED = 1, 2
FORMAT = 2  # the layout of ``data``; a vector of another layout is not used (the reader falls back to the items)

STAMP = (
    "SELECT r.status, r.done, (SELECT COUNT(*) FROM {p}rescores x WHERE x.run_id = r.id) AS rescores, "
    "(SELECT COALESCE(SUM(x.done), 0) FROM {p}rescores x WHERE x.run_id = r.id) AS rescored, "
    "(SELECT COUNT(*) FROM {p}rescores x WHERE x.run_id = r.id AND x.status = 'running') AS rescoring "
    "FROM {p}runs r WHERE r.id = ?"
)
ITEMS = "SELECT position, status, dataset_item_id, repetition FROM {p}run_items WHERE run_id = ?"
LAST = "SELECT MAX(position) AS last FROM {p}run_items WHERE run_id = ?"
RANKED = "SELECT position FROM {p}run_items WHERE run_id = ? ORDER BY dataset_item_id{collate}, repetition"
SCORES = (
    "SELECT position, scorer_key, score, passed FROM {p}scores WHERE run_id = ? AND is_current = 1 "
    "ORDER BY position, scorer_index"
)
SAVE = (
    "INSERT INTO {p}run_vectors VALUES (?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET stamp = excluded.stamp, "
    "header = excluded.header, data = excluded.data"
)
LOAD = "SELECT stamp, header, data FROM {p}run_vectors WHERE run_id = ?"


@dataclass(frozen=True)
class RunVector:
    """One run's packed verdicts and scores (see the module's docstring)."""

    run_id: str
    status: npt.NDArray[np.uint8]
    key: npt.NDArray[np.uint64]
    rank: npt.NDArray[np.int32]
    scores: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.uint8]]]  # scorer key -> (score, flags)

    @property
    def present(self) -> npt.NDArray[np.bool_]:
        return self.status > 0

    @property
    def passed(self) -> npt.NDArray[np.bool_]:
        return np.equal(self.status, 1 + STATUSES.index("passed"))


def _stamp(row: dict[str, Any] | None) -> str | None:
    """The stamp of a run's stamp row; None while a vector cannot be built (running, or a rescore running)."""
    if row is None or row["status"] == "running" or int(row["rescoring"]):
        return None
    return f"{row['status']}/{int(row['done'])}/{int(row['rescores'])}/{int(row['rescored'])}"


def stamp(view: EvalsView, run_id: str) -> str | None:
    """A run's stamp now (what changes when its items, scores or rescores do); None while it can still change."""
    rows = view.query(STAMP, (run_id,))
    return _stamp(rows[0] if rows else None)


# statement -> (the index of the id in its rows, whether that id is a rescore's rather than a run's)
TOUCHES: dict[str, tuple[int, bool]] = {
    handlers.INSERT_RUN_ITEM: (1, False),
    handlers.INSERT_SCORE: (1, False),
    handlers.FINISH_RUN: (-1, False),
    handlers.INSERT_RESCORE: (1, False),
    handlers.FINISH_RESCORE: (-1, True),
    handlers.INSERT_RESCORE_ITEM: (0, True),
}
DROP = "DELETE FROM {p}run_vectors WHERE run_id = ?"


def build(view: EvalsView, cursor: Any, generation: int, run_ids: set[str]) -> None:
    """Rebuild the vectors of the runs a batch touched, in the projection's transaction (``cursor``): those of runs
    still running or being rescored are deleted (none exists while a run runs: nothing to do). The rows are read
    ``FETCH`` at a time into the arrays, so building a run's vector holds its arrays, not its rows."""
    for run_id in sorted(run_ids):
        found = _rows(view, cursor, generation, STAMP, run_id)
        stamp = _stamp(dict(found[0]) if found else None)
        if stamp is None:
            if found and dict(found[0])["status"] != "running":
                view.execute(cursor, view.sql(DROP, generation), (run_id,))
            continue
        vector = _vector(view, cursor, generation, run_id)
        if vector is None:
            view.execute(cursor, view.sql(DROP, generation), (run_id,))
            continue  # a status this layout cannot hold: readers use the items
        header, data = _pack(len(vector.status), vector.status, vector.key, vector.rank, vector.scores)
        view.execute(cursor, view.sql(SAVE, generation), (run_id, stamp, header, data))


FETCH = 5_000  # rows read at a time while building a vector


def _rows(view: EvalsView, cursor: Any, generation: int, template: str, run_id: str) -> list[Any]:
    view.execute(cursor, view.sql(template, generation), (run_id,))
    return list(cursor.fetchall())


def _batches(view: EvalsView, cursor: Any, generation: int, template: str, run_id: str) -> Iterator[list[Any]]:
    view.execute(cursor, view.sql(template, generation), (run_id,))
    raw = getattr(cursor, "sqlite_cursor", cursor)  # eventsourcing's SQLite wrapper has no fetchmany
    while batch := raw.fetchmany(FETCH):  # rows as sequences in the SELECT's order: no dict per row
        yield [tuple(row.values()) for row in batch] if isinstance(batch[0], dict) else batch


def _vector(view: EvalsView, cursor: Any, generation: int, run_id: str) -> RunVector | None:
    """A finished run's vector from its rows; None if an item has a status the layout cannot hold."""
    collate = ' COLLATE "C"' if view.paramstyle == "format" else ""
    total = int(dict(_rows(view, cursor, generation, "SELECT total FROM {p}runs WHERE id = ?", run_id)[0])["total"])
    last = dict(_rows(view, cursor, generation, LAST, run_id)[0])["last"]
    size = max(total, 1 + (-1 if last is None else int(last)))
    status, key = np.zeros(size, dtype=np.uint8), np.zeros(size, dtype=np.uint64)
    codes = {name: 1 + n for n, name in enumerate(STATUSES)}
    for items in _batches(view, cursor, generation, ITEMS, run_id):  # position, status, dataset_item_id, repetition
        try:
            found = [codes[row[1]] for row in items]
        except KeyError:
            return None
        positions = np.fromiter((row[0] for row in items), dtype=np.int64, count=len(items))
        status[positions] = np.array(found, dtype=np.uint8)
        key[positions] = np.fromiter((_key(row[2], int(row[3])) for row in items), dtype=np.uint64, count=len(items))
    rank, n = np.full(size, -1, dtype=np.int32), 0
    for ranked in _batches(view, cursor, generation, RANKED.replace("{collate}", collate), run_id):
        rank[np.fromiter((row[0] for row in ranked), dtype=np.int64)] = np.arange(n, n + len(ranked))
        n += len(ranked)
    scores: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.uint8]]] = {}
    for batch in _batches(view, cursor, generation, SCORES, run_id):
        for p, scorer, score, passed in batch:  # position, scorer_key, score, passed
            if scorer not in scores:
                scores[scorer] = (np.zeros(size, dtype=np.float64), np.zeros(size, dtype=np.uint8))
            value, flags = scores[scorer]
            value[p] = float(score)
            flags[p] = PRESENT | (PASSED if passed else 0)
    return RunVector(run_id, status, key, rank, scores)


def _key(dataset_item_id: str, repetition: int) -> int:
    digest = hashlib.blake2b(f"{dataset_item_id}\0{repetition}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1  # 0 marks a position without an item


def _pack(size: int, status: npt.NDArray[np.uint8], key: npt.NDArray[np.uint64], rank: npt.NDArray[np.int32],
          scores: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.uint8]]]) -> tuple[str, bytes]:  # fmt: skip
    keys = list(scores)
    parts = [key.tobytes(), rank.tobytes(), status.tobytes()]
    for scorer in keys:
        parts += [scores[scorer][0].tobytes(), scores[scorer][1].tobytes()]
    header = orjson.dumps({"format": FORMAT, "size": size, "scorers": keys}).decode()
    return header, b"".join(parts)


def load(view: EvalsView, run_id: str) -> RunVector | None:
    """A run's vector, if it has one that is current (its stamp is the run's now); else None."""
    found = view.query(LOAD, (run_id,), binary=True)
    stamps = view.query(STAMP, (run_id,))
    if not found or not stamps or found[0]["stamp"] != _stamp(stamps[0]):
        return None
    header = orjson.loads(found[0]["header"])
    if header.get("format") != FORMAT:
        return None
    size, data = int(header["size"]), memoryview(bytes(found[0]["data"]))
    offset = 0

    def take(dtype: type[np.generic]) -> Any:
        nonlocal offset
        width = np.dtype(dtype).itemsize * size
        array = np.frombuffer(data[offset : offset + width], dtype=dtype)
        offset += width
        return array

    key, rank, status = take(np.uint64), take(np.int32), take(np.uint8)
    scores = {key: (take(np.float64), take(np.uint8)) for key in header["scorers"]}
    return RunVector(run_id, status, key, rank, scores)


# -- dataset versions -----------------------------------------------------------------------------------------------
# A published version's items never change, so its vector is built once, by the batch that records the version
# (after its live chunks are marked): per item in position order, its position, a 128-bit BLAKE2b digest of its id
# and one of its fields' canonical JSON (keys sorted: key order is not a change). Two versions' diff is then the
# ids of one without the other, and the common ids whose field digests differ (``services.datasets``).

VERSION_ITEMS = (
    "SELECT position, item_id, input, expected_output, metadata, events, split FROM {p}dataset_items "
    "WHERE version_id = ? AND live = 1 ORDER BY position"
)
SAVE_VERSION = "INSERT INTO {p}version_vectors VALUES (?, ?, ?) ON CONFLICT (version_id) DO NOTHING"
LOAD_VERSION = "SELECT header, data FROM {p}version_vectors WHERE version_id = ?"
VERSION_FORMAT = 1


@dataclass(frozen=True)
class VersionVector:
    """A dataset version's items (position order): positions, id digests and field digests, each 128 bits as two
    uint64 columns."""

    position: npt.NDArray[np.int64]
    ids: npt.NDArray[np.uint64]  # (n, 2)
    fields: npt.NDArray[np.uint64]  # (n, 2)


def _digest(*parts: bytes) -> bytes:
    return hashlib.blake2b(b"\0".join(parts), digest_size=16).digest()


def _canonical(text: str | None) -> bytes:
    return b"\1" if text is None else orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS)


def build_versions(view: EvalsView, cursor: Any, generation: int, version_ids: set[str]) -> None:
    """Build the vectors of versions a batch recorded, in the projection's transaction."""
    for version_id in sorted(version_ids):
        view.execute(cursor, view.sql(VERSION_ITEMS, generation), (version_id,))
        rows = [dict(row) for row in cursor.fetchall()]
        position = np.fromiter((int(r["position"]) for r in rows), dtype=np.int64, count=len(rows))
        ids = b"".join(_digest(str(r["item_id"]).encode()) for r in rows)
        fields = b"".join(
            _digest(*(_canonical(r[f]) for f in ("input", "expected_output", "metadata", "events")),
                    b"\1" if r["split"] is None else b"\2" + str(r["split"]).encode())
            for r in rows
        )  # fmt: skip
        header = orjson.dumps({"format": VERSION_FORMAT, "size": len(rows)}).decode()
        data = position.tobytes() + ids + fields
        view.execute(cursor, view.sql(SAVE_VERSION, generation), (version_id, header, data))


def load_version(view: EvalsView, version_id: str) -> VersionVector | None:
    """A version's vector (None for a version recorded before vectors: read its items)."""
    found = view.query(LOAD_VERSION, (version_id,), binary=True)
    if not found:
        return None
    header = orjson.loads(found[0]["header"])
    if header.get("format") != VERSION_FORMAT:
        return None
    n, data = int(header["size"]), bytes(found[0]["data"])
    position = np.frombuffer(data, dtype=np.int64, count=n)
    ids = np.frombuffer(data, dtype=np.uint64, count=2 * n, offset=8 * n).reshape(n, 2)
    fields = np.frombuffer(data, dtype=np.uint64, count=2 * n, offset=24 * n).reshape(n, 2)
    return VersionVector(position, ids, fields)
