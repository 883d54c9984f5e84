"""The store's invariants, checked from the event log and the read model themselves: ``agnt5 audit check``.

Nothing here trusts the code that wrote the data: the log is read event by event and folded into the little each
invariant needs (item ids, positions, counts), the read model is read table by table, and a fresh read model is
built from the log into a scratch target (a temporary SQLite file, or a scratch PostgreSQL schema, never the live
tables) and compared with the live one row by row. What runs after every kill of the reliability suite.

Both sides are taken at the same point: the live view's tables and its tracking position are read in one
snapshot, and the log is read up to that position (a later event is not in the view yet; ``agnt5 projections
catch-up`` first checks all of it). Cost: one pass over the log, one read of each view table, one rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.utils import Environment

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain import ids
from agnt5_evals.domain.gates import item_status
from agnt5_evals.projections.catchup import Pace
from agnt5_evals.projections.handlers import Op, operations
from agnt5_evals.projections.schema import GENERATION_TABLE, TABLES, VIEW_NAME, generation_prefix
from agnt5_evals.projections.views import EvalsView, SQLiteEvalsView

BATCH = 1000
SHOWN = 5  # violations shown per invariant and kind: a broken store must not print a million lines
INVARIANTS = {
    "dataset-items": "every dataset item appears once per published version (and in a draft), and each version's "
    "and upload's item count matches its items",
    "run-items": "every run item is recorded exactly once, in contiguous chunks, at its dataset item's position",
    "scores": "each recorded item has one score per scorer of its run's spec (an errored item none), and its status "
    "follows from them",
    "counters": "each run's counters and watermark match its recorded items; the read model's counters match its "
    "rows and the log",
    "rebuild": "the read model equals a fresh rebuild from the log",
}


@dataclass(frozen=True)
class Violation:
    invariant: str
    detail: str


@dataclass
class Report:
    """What a check found: the positions it covered, what it counted, and every violation (by invariant)."""

    log_position: int = 0
    view_position: int = 0
    counted: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def violated(self) -> list[str]:
        return [name for name in INVARIANTS if any(v.invariant == name for v in self.violations)]

    def as_dict(self) -> dict[str, Any]:
        by_name = {name: [v.detail for v in self.violations if v.invariant == name] for name in INVARIANTS}
        return {
            "ok": self.ok,
            "log_position": self.log_position,
            "view_position": self.view_position,
            "checked": dict(sorted(self.counted.items())),
            "invariants": [
                {
                    "invariant": name,
                    "holds": not found,
                    "violations": len(found),
                    "details": found[:SHOWN],
                    "description": INVARIANTS[name],
                }
                for name, found in by_name.items()
            ],
        }


@dataclass
class RunState:
    """A run as its events tell it, plus its recorded items (id -> (position, status, chunk))."""

    total: int
    repetitions: int
    version_id: str
    scorer_keys: list[str]
    status: str = "running"
    chunks: dict[int, tuple[int, int]] = field(default_factory=dict)  # chunk number -> [start, end), as recorded
    shard_size: int | None = None  # a sharded run's shards are recorded in any order, each from its watermark
    marks: dict[int, int] = field(default_factory=dict)  # shard -> its watermark (a sharded run)
    counters: Counter[str] = field(default_factory=Counter)
    items: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    positions: set[int] = field(default_factory=set)
    scores: Counter[str] = field(default_factory=Counter)  # current scores per scorer key
    n_scores: int = 0  # the run's own score rows (not a rescore's)

    @property
    def next_position(self) -> int:
        """The watermark of a contiguous run; the number of recorded items of a sharded one."""
        if self.shard_size:
            return sum(end - start for start, end in self.chunks.values())
        return max((end for _, end in self.chunks.values()), default=0)

    def recorded_positions(self) -> set[int]:
        return {p for start, end in self.chunks.values() for p in range(start, end)}


class LogFold:
    """The log, folded event by event into what the invariants need; each contradiction is a ``Violation``."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.counted: Counter[str] = Counter()
        self.drafts: dict[str, dict[str, None]] = {}  # dataset -> its draft's item ids, in order
        self.published: dict[str, int] = {}  # dataset -> versions published
        self.version_chunks: dict[str, tuple[str, int, int, list[str]]] = {}  # chunk -> (version, index, start, ids)
        self.upload_chunks: dict[str, tuple[str, str, int, list[str]]] = {}  # chunk -> (upload, dataset, start, ids)
        self.versions: dict[str, tuple[str, list[str]]] = {}  # version -> (dataset, item ids in order)
        self.runs: dict[str, RunState] = {}
        self.run_chunks: dict[str, str] = {}  # RunChunk id -> run id

    def fail(self, invariant: str, detail: str) -> None:
        self.violations.append(Violation(invariant, detail))

    def add(self, name: str, originator_id: str, e: Mapping[str, Any]) -> None:
        """Fold one event: ``name`` is its class (``RunChunk.ItemRecorded``), ``e`` its attributes."""
        self.counted["events"] += 1
        handler = getattr(self, "_" + name.replace(".", "_"), None)
        if handler is not None:
            handler(originator_id, e)

    # -- datasets -----------------------------------------------------------------------------------

    def _Dataset_Created(self, did: str, e: Mapping[str, Any]) -> None:
        self.drafts[did] = {}
        self.counted["datasets"] += 1

    def _draft_add(self, did: str, item_ids: list[str], what: str) -> None:
        draft = self.drafts.setdefault(did, {})
        for item_id in item_ids:
            if item_id in draft:
                self.fail("dataset-items", f"dataset {did}: item {item_id} is in the draft twice ({what})")
            draft[item_id] = None

    def _Dataset_ItemsAdded(self, did: str, e: Mapping[str, Any]) -> None:
        self._draft_add(did, [str(item["id"]) for item in e["items"]], "added again")

    def _Dataset_ItemsRemoved(self, did: str, e: Mapping[str, Any]) -> None:
        draft = self.drafts.setdefault(did, {})
        for item_id in e["item_ids"]:
            if draft.pop(str(item_id), "absent") == "absent":
                self.fail("dataset-items", f"dataset {did}: item {item_id} removed but not in the draft")

    def _Dataset_DraftRestored(self, did: str, e: Mapping[str, Any]) -> None:
        _, items = self.versions.get(str(e["version_id"]), ("", []))
        if len(items) != e["n_items"]:
            self.fail("dataset-items", f"dataset {did}: restored {e['n_items']} items, the version holds {len(items)}")
        self.drafts[did] = dict.fromkeys(items)

    def _UploadChunk_Created(self, cid: str, e: Mapping[str, Any]) -> None:
        item_ids = [str(item["id"]) for item in e["items"]]
        self.upload_chunks[cid] = (str(e["upload_id"]), str(e["dataset_id"]), int(e["start"]), item_ids)

    def _Dataset_UploadCommitted(self, did: str, e: Mapping[str, Any]) -> None:
        upload, start, item_ids = str(e["upload_id"]), 0, []
        for cid in e["chunk_ids"]:
            chunk = self.upload_chunks.get(str(cid))
            if chunk is None or chunk[:2] != (upload, did) or chunk[2] != start:
                self.fail("dataset-items", f"dataset {did}: upload {upload} commits a missing or foreign chunk {cid}")
                return
            item_ids.extend(chunk[3])
            start += len(chunk[3])
        if len(item_ids) != e["n_items"]:
            self.fail("dataset-items", f"dataset {did}: upload {upload} says {e['n_items']} items, holds {start}")
        self._draft_add(did, item_ids, f"upload {upload}")
        self.counted["uploads"] += 1

    def _DatasetVersionChunk_Created(self, cid: str, e: Mapping[str, Any]) -> None:
        item_ids = [str(item["id"]) for item in e["items"]]
        self.version_chunks[cid] = (str(e["dataset_version_id"]), int(e["index"]), int(e["start"]), item_ids)

    def _DatasetVersion_Created(self, vid: str, e: Mapping[str, Any]) -> None:
        did, item_ids = str(e["dataset_id"]), list[str]()
        for index, cid in enumerate(e["chunk_ids"]):
            chunk = self.version_chunks.get(str(cid))
            if chunk is None or chunk[:3] != (vid, index, len(item_ids)):
                self.fail("dataset-items", f"version {vid}: chunk {index} ({cid}) is missing or out of place")
                continue
            item_ids.extend(chunk[3])
        self.versions[vid] = (did, item_ids)
        self.counted["versions"] += 1
        self.counted["version items"] += len(item_ids)
        if len(item_ids) != e["n_items"]:
            self.fail("dataset-items", f"version {vid}: says {e['n_items']} items, its chunks hold {len(item_ids)}")
        for item_id, times in Counter(item_ids).items():
            if times > 1:
                self.fail("dataset-items", f"version {vid}: item {item_id} appears {times} times")
        draft = list(self.drafts.get(did, {}))
        if sorted(draft) != sorted(item_ids):
            self.fail("dataset-items", f"version {vid}: holds {len(item_ids)} items, the draft it publishes "
                      f"{len(draft)} (or other ones)")  # fmt: skip

    def _Dataset_VersionPublished(self, did: str, e: Mapping[str, Any]) -> None:
        self.published[did] = self.published.get(did, 0) + 1
        if int(e["number"]) != self.published[did]:
            self.fail("dataset-items", f"dataset {did}: version {e['number']} published as its {self.published[did]}")

    # -- runs ---------------------------------------------------------------------------------------

    def _Run_Started(self, rid: str, e: Mapping[str, Any]) -> None:
        keys = [str(s.get("key")) for s in e["spec"].get("scorers", [])]
        k = int(e["repetitions"])
        self.runs[rid] = RunState(int(e["n_items"]) * k, k, str(e["dataset_version_id"]), keys)
        self.counted["runs"] += 1

    def _run(self, rid: str) -> RunState | None:
        run = self.runs.get(rid)
        if run is None:
            self.fail("run-items", f"run {rid}: an event of a run that was never started")
        return run

    def _Run_ChunkRecorded(self, rid: str, e: Mapping[str, Any]) -> None:
        run = self._run(rid)
        if run is None:
            return
        start, end, chunk_no = int(e["start"]), int(e["end"]), int(e["chunk_no"])
        if run.status != "running":
            self.fail("run-items", f"run {rid}: chunk {chunk_no} recorded after the run was {run.status}")
        if run.shard_size:
            size = run.shard_size
            shard = start // size
            shard_end = min(shard * size + size, run.total)
            whole = chunk_no == shard and (start, end) == (shard * size, shard_end)  # a chunk was a whole shard once
            past = chunk_no == run.total + start and start in run.chunks  # its number held by such a chunk
            if (
                chunk_no in run.chunks
                or not (chunk_no == start or whole or past)
                or start != run.marks.get(shard, shard * size)
                or not start < end <= shard_end
            ):
                self.fail("run-items", f"run {rid}: chunk {chunk_no} [{start}, {end}) does not follow what shard "
                          f"{shard} of {size} items recorded, or was recorded twice")  # fmt: skip
            run.marks[shard] = end
        elif chunk_no != len(run.chunks) or start != run.next_position or not start < end <= run.total:
            self.fail("run-items", f"run {rid}: chunk {e['chunk_no']} [{start}, {end}) does not follow "
                      f"{len(run.chunks)} chunks ending at {run.next_position}")  # fmt: skip
        run.chunks[chunk_no] = (start, end)
        run.counters.update(passed=int(e["n_passed"]), failed=int(e["n_failed"]), errored=int(e["n_errored"]))

    def _Run_ShardsPlanned(self, rid: str, e: Mapping[str, Any]) -> None:
        run = self._run(rid)
        if run is None:
            return
        if run.chunks:
            self.fail("run-items", f"run {rid}: shards planned after chunks were recorded")
        run.shard_size = int(e["shard_size"])

    def _Run_ChunkRescored(self, rid: str, e: Mapping[str, Any]) -> None:
        run = self._run(rid)
        if run is not None:
            run.counters.update(passed=int(e["d_passed"]), failed=int(e["d_failed"]), errored=int(e["d_errored"]))

    def _finish(self, rid: str, status: str) -> None:
        run = self._run(rid)
        if run is None:
            return
        if run.status != "running":
            self.fail("run-items", f"run {rid}: {status} after it was {run.status}")
        if status == "completed" and run.next_position != run.total:
            self.fail("run-items", f"run {rid}: completed with {run.next_position} of {run.total} items recorded")
        run.status = status

    def _Run_Completed(self, rid: str, e: Mapping[str, Any]) -> None:
        self._finish(rid, "completed")

    def _Run_Failed(self, rid: str, e: Mapping[str, Any]) -> None:
        self._finish(rid, "failed")

    def _Run_Cancelled(self, rid: str, e: Mapping[str, Any]) -> None:
        self._finish(rid, "cancelled")

    def _RunChunk_Opened(self, cid: str, e: Mapping[str, Any]) -> None:
        self.run_chunks[cid] = str(e["run_id"])
        if cid != str(ids.run_chunk_id(uuid.UUID(str(e["run_id"])), int(e["chunk_no"]))):
            self.fail("run-items", f"run {e['run_id']}: chunk {e['chunk_no']} has a foreign id {cid}")

    def _RunChunk_ItemRecorded(self, cid: str, e: Mapping[str, Any]) -> None:
        rid, item, position = str(e["run_id"]), str(e["run_item_id"]), int(e["position"])
        run = self._run(rid)
        if run is None:
            return
        self.counted["run items"] += 1
        if item in run.items:
            first = run.items[item][0]
            self.fail("run-items", f"run {rid}: item {item} recorded twice (positions {first}, {position})")
        if position in run.positions:
            self.fail("run-items", f"run {rid}: position {position} recorded twice")
        if self.run_chunks.get(cid) != rid:
            self.fail("run-items", f"run {rid}: item {item} recorded outside one of its chunks")
        self._check_identity(rid, run, e)
        run.items[item] = (position, str(e["status"]), cid)
        run.positions.add(position)
        self._check_scores(rid, run, e)

    def _RunChunk_ItemsRecorded(self, cid: str, e: Mapping[str, Any]) -> None:
        """A chunk's items in one event: each is checked as an ``ItemRecorded`` of the chunk is."""
        for item in e["items"]:
            self._RunChunk_ItemRecorded(cid, item)

    def _check_identity(self, rid: str, run: RunState, e: Mapping[str, Any]) -> None:
        """The item is the run's uuid5 of the dataset item at its position and its repetition."""
        position, k = int(e["position"]), run.repetitions
        _, items = self.versions.get(run.version_id, ("", []))
        at = items[position // k] if 0 <= position < run.total and position // k < len(items) else None
        expected = ids.run_item_id_str(uuid.UUID(rid), str(e["dataset_item_id"]), int(e["repetition"]))
        if at != e["dataset_item_id"] or position % k != e["repetition"] or expected != e["run_item_id"]:
            self.fail("run-items", f"run {rid}: item {e['run_item_id']} at position {position} is not the run's "
                      f"item for dataset item {e['dataset_item_id']} repetition {e['repetition']}")  # fmt: skip

    def _check_scores(self, rid: str, run: RunState, e: Mapping[str, Any]) -> None:
        item, scores = str(e["run_item_id"]), list(e["scores"])
        self.counted["scores"] += len(scores)
        run.n_scores += len(scores)
        run.scores.update(str(s["key"]) for s in scores)
        if e["error"] is not None:
            if scores:
                self.fail("scores", f"run {rid}: errored item {item} has {len(scores)} scores (an errored item none)")
        elif [s.get("key") for s in scores] != run.scorer_keys:
            self.fail("scores", f"run {rid}: item {item} has scores {[s.get('key') for s in scores]}, "
                      f"its spec scorers {run.scorer_keys}")  # fmt: skip
        elif any(s.get("id") != ids.score_id_str(item, n, str(s["key"])) for n, s in enumerate(scores)):
            self.fail("scores", f"run {rid}: item {item} has a score with a foreign id")
        if e["status"] != item_status(e["error"], scores):
            self.fail("scores", f"run {rid}: item {item} is {e['status']}, its error and scores make it "
                      f"{item_status(e['error'], scores)}")  # fmt: skip

    def _RescoreChunk_ItemRescored(self, cid: str, e: Mapping[str, Any]) -> None:
        """An applied replacing rescore changes the item's status and which scores are current."""
        if not e.get("applied"):
            return
        run = self.runs.get(str(e["run_id"]))
        recorded = run.items.get(str(e["run_item_id"])) if run is not None else None
        if run is None or recorded is None:
            self.fail("scores", f"rescore {e['rescore_id']}: item {e['run_item_id']} was never recorded")
            return
        run.items[str(e["run_item_id"])] = (recorded[0], str(e["status"]), recorded[2])
        run.scores.subtract(str(s["key"]) for s in e["replaced"])
        run.scores.update(str(s["key"]) for s in e["scores"])

    # -- at the end ---------------------------------------------------------------------------------

    def finish(self) -> None:
        """What only the whole (checked) log can tell: every chunk's items are there, counters add up."""
        for rid, run in self.runs.items():
            expected = run.recorded_positions()
            if run.positions != expected:
                missing = sorted(expected - run.positions)[:SHOWN]
                extra = sorted(run.positions - expected)[:SHOWN]
                which = "its recorded chunks'" if run.shard_size else f"0..{run.next_position - 1}"
                self.fail("run-items", f"run {rid}: recorded positions are not {which} "
                          f"(missing {missing}, beyond the watermark {extra})")  # fmt: skip
            per_chunk = Counter(chunk for _, _, chunk in run.items.values())
            for chunk_no, (start, end) in sorted(run.chunks.items()):
                cid = str(ids.run_chunk_id(uuid.UUID(rid), chunk_no))
                held = per_chunk.pop(cid, 0)
                if held != end - start:
                    self.fail("run-items", f"run {rid}: chunk {chunk_no} [{start}, {end}) holds {held} items")
            for cid, n in per_chunk.items():
                self.fail("run-items", f"run {rid}: {n} items recorded in chunk {cid}, which the run never counted")
            statuses = Counter(status for _, status, _ in run.items.values())
            for name in ("passed", "failed", "errored"):
                if run.counters[name] != statuses[name]:
                    self.fail("counters", f"run {rid}: {name} counter {run.counters[name]}, {statuses[name]} items")


# -- the read model -------------------------------------------------------------------------------------


@dataclass
class ViewSnapshot:
    """The live view at one position: its rows' digests per table, and the rows the counters need."""

    position: int
    digests: dict[str, dict[bytes, str]]  # table -> row digest -> the row's first two columns (to name it)
    runs: dict[str, dict[str, Any]]
    run_items: Counter[tuple[str, str]]  # (run, status) -> rows
    scores: Counter[tuple[str, str]]  # (run, scorer key) -> current score rows
    own_scores: Counter[str]  # run -> score rows of the run itself (no rescore)
    run_scorers: dict[tuple[str, str], int]
    datasets: dict[str, dict[str, Any]]
    draft_rows: Counter[str]
    versions: dict[str, dict[str, Any]]
    version_rows: Counter[str]
    version_item_repeats: list[tuple[str, str]]


def _digest(row: Mapping[str, Any]) -> bytes:
    """A row as bytes that do not depend on the engine (types both stores return alike, keys sorted)."""
    text = repr(sorted((key, float(v) if isinstance(v, float) else v) for key, v in row.items()))
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _rows(view: EvalsView, cursor: Any, prefix: str, table: str) -> Iterator[dict[str, Any]]:
    view.execute(cursor, f"SELECT * FROM {prefix}{table}")
    yield from (dict(row) for row in cursor.fetchall())


def snapshot(view: EvalsView, application_name: str, scratch: bool = False) -> ViewSnapshot:
    """Every table of the live generation and its position, read in one snapshot (one read transaction; on
    PostgreSQL repeatable read, so a writer in between changes nothing the check sees)."""
    with view.datastore.transaction(commit=False) as cursor:
        if view.paramstyle == "format":
            cursor.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        generation = 0
        if not scratch:
            view.execute(cursor, f"SELECT live FROM {view.base}{GENERATION_TABLE} WHERE id = 1")
            row = cursor.fetchone()
            generation = 0 if row is None else int(row["live"])
        tracking = view.tracking_name(application_name, generation)
        view.execute(cursor, f"SELECT notification_id FROM {view.tracking_table} WHERE application_name = ?",
                     (tracking,))  # fmt: skip
        row = cursor.fetchone()
        snap = ViewSnapshot(0 if row is None else int(row["notification_id"]), {}, {}, Counter(), Counter(),
                            Counter(), {}, {}, Counter(), {}, Counter(), [])  # fmt: skip
        prefix = view.base + generation_prefix(generation)
        for table in TABLES:
            digests: dict[bytes, str] = {}
            for r in _rows(view, cursor, prefix, table):
                digests[_digest(r)] = " ".join(str(v) for v in list(r.values())[:2])
                _note(snap, table, r)
            snap.digests[table] = digests
    return snap


def _note(snap: ViewSnapshot, table: str, r: dict[str, Any]) -> None:
    """Keep what the counters compare (the rest of a row is only digested)."""
    if table == "runs":
        snap.runs[r["id"]] = {k: r[k] for k in ("status", "total", "done", "passed", "failed", "errored")}
    elif table == "run_items":
        snap.run_items[(r["run_id"], r["status"])] += 1
    elif table == "scores":
        if r["is_current"]:
            snap.scores[(r["run_id"], r["scorer_key"])] += 1
        if r["rescore_id"] is None:
            snap.own_scores[r["run_id"]] += 1
    elif table == "run_scorers":
        snap.run_scorers[(r["run_id"], r["scorer_key"])] = int(r["n"])
    elif table == "datasets":
        snap.datasets[r["id"]] = {"draft_items": r["draft_items"], "versions": r["versions"]}
    elif table == "draft_items":
        snap.draft_rows[r["dataset_id"]] += 1
    elif table == "dataset_versions":
        snap.versions[r["id"]] = {"n_items": r["n_items"], "dataset_id": r["dataset_id"]}
    elif table == "dataset_items" and r["live"]:
        snap.version_rows[r["version_id"]] += 1
        snap.version_item_repeats.append((r["version_id"], r["item_id"]))


def compare_view(fold: LogFold, snap: ViewSnapshot) -> list[Violation]:
    """The read model's counters against its own rows and against the log."""
    found: list[Violation] = []
    for rid, row in snap.runs.items():
        found.extend(_compare_run(fold, snap, rid, row))
    missing = set(fold.runs) - set(snap.runs)
    found.extend(Violation("counters", f"view: run {rid} of the log is missing") for rid in sorted(missing))
    for did, row in snap.datasets.items():
        logged = len(fold.drafts.get(did, {}))
        if not row["draft_items"] == snap.draft_rows[did] == logged:
            found.append(Violation("counters", f"view dataset {did}: draft_items {row['draft_items']}, "
                                   f"{snap.draft_rows[did]} rows, {logged} in the log"))  # fmt: skip
    for vid, row in snap.versions.items():
        logged = len(fold.versions.get(vid, ("", []))[1])
        if not row["n_items"] == snap.version_rows[vid] == logged:
            found.append(Violation("dataset-items", f"view version {vid}: n_items {row['n_items']}, "
                                   f"{snap.version_rows[vid]} rows, {logged} in the log"))  # fmt: skip
    for (vid, item_id), times in Counter(snap.version_item_repeats).items():
        if times > 1:
            found.append(Violation("dataset-items", f"view version {vid}: item {item_id} has {times} rows"))
    return found


def _compare_run(fold: LogFold, snap: ViewSnapshot, rid: str, row: dict[str, Any]) -> Iterator[Violation]:
    """One run's row against its item and score rows, and against the log."""
    items = {s: snap.run_items[(rid, s)] for s in ("passed", "failed", "errored")}
    if row["done"] != sum(items.values()) or any(row[s] != n for s, n in items.items()):
        yield Violation("counters", f"view run {rid}: counters {_counts(row)}, rows {items}")
    run = fold.runs.get(rid)
    if run is None:
        yield Violation("counters", f"view run {rid}: not in the log")
        return
    logged = {"status": run.status, "total": run.total, "done": run.next_position, **run.counters}
    if {k: row[k] for k in logged} != logged:
        yield Violation("counters", f"view run {rid}: {_counts(row)}, the log says {logged}")
    if snap.own_scores[rid] != run.n_scores:
        yield Violation("scores", f"view run {rid}: {snap.own_scores[rid]} score rows, {run.n_scores} in the log")
    for key, n in run.scores.items():
        rows, aggregate = snap.scores[(rid, key)], snap.run_scorers.get((rid, key), 0)
        if rows != n or aggregate != n:
            yield Violation("counters", f"view run {rid}: scorer {key} has {rows} current rows, aggregate n "
                            f"{aggregate}, {n} in the log")  # fmt: skip


def _counts(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("status", "total", "done", "passed", "failed", "errored")}


def compare_tables(live: ViewSnapshot, fresh: ViewSnapshot) -> list[Violation]:
    """Row by row: a row only in the live view, or only in the fresh rebuild, names the table and the row."""
    found = []
    for table in TABLES:
        ours, theirs = live.digests[table], fresh.digests[table]
        only_live = [ours[d] for d in ours.keys() - theirs.keys()]
        only_fresh = [theirs[d] for d in theirs.keys() - ours.keys()]
        if only_live or only_fresh:
            found.append(Violation("rebuild", f"table {table}: {len(only_live)} rows only in the live view "
                                   f"{sorted(only_live)[:SHOWN]}, {len(only_fresh)} only in a fresh rebuild "
                                   f"{sorted(only_fresh)[:SHOWN]}"))  # fmt: skip
    return found


# -- the whole check ------------------------------------------------------------------------------------


def check(svc: Services) -> Report:
    """Fold the log up to the live view's position and compare the view with it and with a fresh rebuild to that
    position; then fold the rest of the log (events the view does not hold yet, or cannot: one its handlers
    reject) for the invariants of the log alone."""
    live = snapshot(svc.view, svc.app.name)
    head = svc.app.recorder.max_notification_id() or 0
    fold = LogFold()
    with scratch_view(svc) as fresh_view:
        replay(svc, fold, 0, live.position, fresh_view)
        fresh = snapshot(fresh_view, svc.app.name, scratch=True)
    found = [*compare_view(fold, live), *compare_tables(live, fresh)]
    replay(svc, fold, live.position, head, None)
    fold.finish()
    return Report(max(head, live.position), live.position, fold.counted, [*fold.violations, *found])


def replay(svc: Services, fold: LogFold, after: int, stop: int, into: EvalsView | None) -> None:
    """Fold the log's events after ``after`` up to ``stop``, and apply their rows to ``into`` if given."""
    last, pace = after, Pace(BATCH)
    while last < stop and (notifications := pace.read(svc.app, last, stop=stop)):
        ops: list[Op] = []
        for notification in notifications:
            event: Any = svc.app.mapper.to_domain_event(notification)
            fold.add(type(event).__qualname__, str(notification.originator_id), vars(event))
            if into is not None:
                ops.extend(operations(event))
        last = notifications[-1].id
        if into is not None:
            into.apply(ops, Tracking(svc.app.name, last))


@contextlib.contextmanager
def scratch_view(svc: Services) -> Iterator[EvalsView]:
    """An empty read model beside the store, never the live one: a temporary SQLite file, or on PostgreSQL a
    scratch schema in the same database (dropped afterwards), so the fresh rebuild runs on the same engine."""
    settings = svc.settings
    if not settings.database_url:
        with tempfile.TemporaryDirectory(prefix="agnt5-check-") as tmp:
            env = {**settings.view_env(), "SQLITE_DBNAME": f"{tmp}/views.db", "CREATE_TABLE": "y"}
            view = _construct(env, SQLiteEvalsView)
            try:
                yield view
            finally:
                view.datastore.close()
        return
    import psycopg

    from agnt5_evals.projections.views_pg import PostgresEvalsView

    schema = f"agnt5_check_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**settings.pg_connect_kwargs(), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"'.encode())
        try:
            view = _construct({**settings.view_env(), "POSTGRES_SCHEMA": schema, "CREATE_TABLE": "y",
                               "POSTGRES_POOL_SIZE": "1"}, PostgresEvalsView)  # fmt: skip
            try:
                yield view
            finally:
                view.datastore.close()
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE'.encode())


def _construct(env: dict[str, str], view_class: type[EvalsView]) -> EvalsView:
    factory: Any = InfrastructureFactory.construct(Environment(VIEW_NAME, env))
    view: EvalsView = factory.tracking_recorder(view_class)
    return view
