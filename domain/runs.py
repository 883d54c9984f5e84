"""The Run aggregate (O(1) state) and RunChunk, the unit of durable, idempotent result recording.

A run's items are recorded in chunks: each chunk is its own aggregate with a deterministic id, holding one
``ItemsRecorded`` event with its run items (output, trace and scores of each), saved atomically together with the
Run's ``ChunkRecorded`` counter event. Recording costs the same whatever the run's size, and recording a chunk
twice collides on the chunk id instead of duplicating results. Chunks recorded before ``ItemsRecorded`` existed
hold one ``ItemRecorded`` event per item instead (``chunk_items`` reads both).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from agnt5_evals.domain import digests, ids
from agnt5_evals.domain.errors import Conflict, Invalid
from agnt5_evals.domain.projects import owned_by_project
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT

TERMINAL = ("completed", "failed", "cancelled")
DEFAULT_SHARD_SIZE = 100  # items per shard of a run: the worker pool's unit of work (config ``shard_size``)
MAX_SHARDS = 1_000  # a bigger run gets bigger shards: the run's state (and each of its events) stays small
RUN_CODE_KEYS = ("code_digest", "editable", "build")  # what a run's target records of the code it ran


class Run(Aggregate):
    """One experiment version executed over one dataset version."""

    rescores: tuple[str, ...] = ()  # replacing rescores ever started, in order (class defaults: older snapshots)
    rescoring: str | None = None  # the replacing rescore in progress
    chain: str | None = None  # the last link of the run's hash chain (None: started before hash chains)
    dataset_digest: str | None = None  # the content digest of the dataset version it runs over
    project_id = DEFAULT_PROJECT  # its experiment's
    shard_size: int | None = None  # its items' shards of this size (plan_shards); None: one contiguous range
    shards: tuple[int, ...] = ()  # a sharded run's wholly recorded shards, in the order they were completed
    partial: tuple[tuple[int, int], ...] = ()  # a sharded run's partly recorded shards: (shard, items recorded)
    chunk_nos: tuple[int, ...] = ()  # a sharded run's chunk numbers, in the order they were recorded
    pooled = True  # a sharded run is the worker pool's (every sharded run was, before local runs were sharded)

    @event("Started")
    def __init__(
        self,
        experiment_id: UUID,
        experiment_version_id: UUID,
        dataset_id: UUID,
        dataset_version_id: UUID,
        name: str,
        spec: dict[str, Any],
        n_items: int,
        repetitions: int,
        dataset_digest: str | None = None,
        digest: str | None = None,
        project_id: str = DEFAULT_PROJECT,
    ) -> None:
        self.project_id = project_id
        self.experiment_id = experiment_id
        self.experiment_version_id = experiment_version_id
        self.dataset_id = dataset_id
        self.dataset_version_id = dataset_version_id
        self.name = name
        self.spec = spec
        self.n_items = n_items
        self.repetitions = repetitions
        self.status = "running"
        self.chunks = 0
        self.next_position = 0
        self.n_passed = 0
        self.n_failed = 0
        self.n_errored = 0
        self.dataset_digest = dataset_digest
        self.chain = digest

    @classmethod
    def start(cls, **fields: Any) -> Run:
        """A new run whose ``Started`` event records the first link of its hash chain (the digest of its fields)."""
        return cls(**fields, digest=digests.started(cls.__init__, fields))

    @property
    def total(self) -> int:
        return self.n_items * self.repetitions

    def check_running(self) -> None:
        if self.status != "running":
            raise Conflict(f"run {self.id} is {self.status}")

    def plan_shards(self, shard_size: int, pooled: bool) -> None:
        """Split the run's positions into shards of ``shard_size`` (the last may be shorter; at most
        ``MAX_SHARDS`` shards, so a bigger run's shards are bigger): shard ``s`` holds positions
        ``[s * shard_size, (s + 1) * shard_size)``. Each shard is recorded in chunks from its own watermark on, and
        shards in any order (several workers record shards of one run). ``pooled``: the worker pool executes it
        (else the process that started it, and only that process's worker resumes it)."""
        if self.chunks or self.shard_size is not None:
            raise Conflict(f"run {self.id}: shards are planned before anything is recorded")
        if shard_size < 1:
            raise Conflict(f"run {self.id}: a shard holds at least one item")
        self._shards_planned(shard_size=max(shard_size, -(-self.total // MAX_SHARDS)), pooled=pooled)

    @event("ShardsPlanned")
    def _shards_planned(self, shard_size: int, pooled: bool) -> None:
        self.shard_size = shard_size
        self.pooled = pooled

    @property
    def n_shards(self) -> int:
        """How many shards the run has; a run from before shards is one shard (when it has items)."""
        if self.shard_size:
            return -(-self.total // self.shard_size)
        return 1 if self.total else 0

    def shard_bounds(self, shard: int) -> tuple[int, int]:
        """The positions ``[start, end)`` of a shard (a run from before shards: its one shard is every position)."""
        if not self.shard_size:
            return 0, self.total
        start = shard * self.shard_size
        return start, min(start + self.shard_size, self.total)

    def shard_of(self, position: int) -> int:
        return position // self.shard_size if self.shard_size else 0

    def mark(self, shard: int) -> int:
        """The shard's watermark: its first position not recorded yet (its end once it is wholly recorded)."""
        if not self.shard_size:
            return self.next_position
        start, end = self.shard_bounds(shard)
        if shard in self.shards:
            return end
        return start + dict(self.partial).get(shard, 0)

    def is_complete(self, shard: int) -> bool:
        return self.mark(shard) >= self.shard_bounds(shard)[1]

    def chunk_numbers(self) -> list[int]:
        """The numbers of the recorded chunks."""
        if not self.shard_size:
            return list(range(self.chunks))
        return sorted(self.chunk_nos or self.shards)  # no chunk_nos: a snapshot from when a chunk was a whole shard

    def chunk_no_at(self, start: int) -> int:
        """The number of the next chunk recorded from ``start``: its start position in a sharded run (two workers
        recording the same items collide on its id), the next in sequence in a run from before shards.

        A run started by the version that recorded a chunk per whole shard numbered its chunks by shard; when such
        a chunk holds the number ``start`` (no chunk numbered by its start can: ``start`` is not recorded yet),
        the chunk is numbered ``total + start``, past every start and every shard."""
        if not self.shard_size:
            return self.chunks
        if start < self.n_shards and start in (self.chunk_nos or self.shards):
            return self.total + start
        return start

    def is_recorded(self, position: int) -> bool:
        return position < self.mark(self.shard_of(position))

    def record_chunk(self, chunk_no: int, start: int, end: int, counts: dict[str, int], items: str) -> None:
        """Count a chunk of items [start, end) whose results are saved in the same transaction; ``items`` is the
        digest of the items its ``ItemsRecorded`` holds, chained to the run's previous link (the log's order). A chunk
        starts at its shard's watermark and ends within the shard."""
        self.check_running()
        shard = self.shard_of(start)
        mark, shard_end = self.mark(shard), self.shard_bounds(shard)[1]
        if chunk_no != self.chunk_no_at(start) or start != mark or not start < end <= shard_end:
            raise Conflict(
                f"run {self.id}: chunk {chunk_no} [{start}, {end}) does not follow what shard {shard} "
                f"recorded up to {mark}"
            )
        self._chunk_recorded(
            chunk_no=chunk_no,
            start=start,
            end=end,
            n_passed=counts["passed"],
            n_failed=counts["failed"],
            n_errored=counts["errored"],
            digest=None if self.chain is None else digests.chunk(self.chain, chunk_no, start, end, counts, items),
        )

    @event("ChunkRecorded")
    def _chunk_recorded(
        self, chunk_no: int, start: int, end: int, n_passed: int, n_failed: int, n_errored: int, digest: str | None
    ) -> None:
        self.chain = digest
        if self.shard_size:  # next_position counts the recorded items
            if "chunk_nos" not in self.__dict__:  # a snapshot from when a chunk was a whole shard, numbered by it
                self.chunk_nos = tuple(self.shards)
            shard = start // self.shard_size
            shard_start, shard_end = self.shard_bounds(shard)
            partial = dict(self.partial)
            recorded = partial.pop(shard, 0) + end - start
            if shard_start + recorded >= shard_end:
                self.shards = (*self.shards, shard)
            else:
                partial[shard] = recorded
            self.partial = tuple(partial.items())
            self.chunk_nos = (*self.chunk_nos, chunk_no)
            self.chunks += 1
            self.next_position += end - start
        else:
            self.chunks = chunk_no + 1
            self.next_position = end
        self.n_passed += n_passed
        self.n_failed += n_failed
        self.n_errored += n_errored

    def complete(self) -> None:
        self.check_running()
        if self.next_position != self.total:
            raise Conflict(f"run {self.id}: {self.total - self.next_position} items are not recorded yet")
        self._completed(digest=None if self.chain is None else digests.completed(self.chain, self.provenance()))

    def provenance(self) -> dict[str, Any]:
        """What the completion digest covers: what ran (experiment version and its definition, the dataset
        version's content, the deployment's code) and the results (the chain's last link, the counts)."""
        counts = {"passed": self.n_passed, "failed": self.n_failed, "errored": self.n_errored}
        return completion_sources(self.experiment_version_id, self.spec, self.dataset_digest, self.chain, counts)

    @event("Completed")
    def _completed(self, digest: str | None) -> None:
        self.chain = digest
        self.status = "completed"

    def fail(self, reason: str) -> None:
        self.check_running()
        self._failed(reason=reason)

    @event("Failed")
    def _failed(self, reason: str) -> None:
        self.status = "failed"

    def cancel(self, reason: str) -> None:
        self.check_running()
        self._cancelled(reason=reason)

    @event("Cancelled")
    def _cancelled(self, reason: str) -> None:
        self.status = "cancelled"

    # -- replacing rescores (domain/rescores.py) ------------------------------------------------------

    def check_rescorable(self) -> None:
        """Only a completed run can be rescored (its outputs are final)."""
        if self.status != "completed":
            raise Conflict(f"run {self.id} is {self.status}: only a completed run can be rescored")

    def start_rescore(self, rescore_id: UUID) -> None:
        self.check_rescorable()
        if self.rescoring is not None:
            raise Conflict(f"run {self.id} is being rescored by {self.rescoring}; wait for it to finish")
        self._rescore_started(rescore_id=str(rescore_id))

    @event("RescoreStarted")
    def _rescore_started(self, rescore_id: str) -> None:
        self.rescores = (*self.rescores, rescore_id)
        self.rescoring = rescore_id

    def record_rescore(self, rescore_id: UUID, delta: dict[str, int]) -> None:
        """The change of the run's counts by one chunk of its replacing rescore, saved with that chunk."""
        if self.rescoring != str(rescore_id):
            raise Conflict(f"run {self.id} is not being rescored by {rescore_id}")
        self._chunk_rescored(
            rescore_id=str(rescore_id), d_passed=delta["passed"], d_failed=delta["failed"], d_errored=delta["errored"]
        )

    @event("ChunkRescored")
    def _chunk_rescored(self, rescore_id: str, d_passed: int, d_failed: int, d_errored: int) -> None:
        self.n_passed += d_passed
        self.n_failed += d_failed
        self.n_errored += d_errored

    def end_rescore(self, rescore_id: UUID) -> None:
        if self.rescoring == str(rescore_id):
            self._rescore_ended(rescore_id=str(rescore_id))

    @event("RescoreEnded")
    def _rescore_ended(self, rescore_id: str) -> None:
        self.rescoring = None


class RunChunk(Aggregate):
    """The results of a contiguous slice of a run's items, all in one ItemsRecorded event.

    A chunk recorded before that event existed holds one ``ItemRecorded`` event per item instead."""

    project_id = DEFAULT_PROJECT  # its run's

    @staticmethod
    def create_id(run_id: UUID, chunk_no: int) -> UUID:
        return ids.run_chunk_id(run_id, chunk_no)

    @event("Opened")
    def __init__(
        self,
        run_id: UUID,
        chunk_no: int,
        start: int,
        item_digests: list[str] | None = None,
        project_id: str = DEFAULT_PROJECT,
    ) -> None:
        self.project_id = project_id
        self.run_id = run_id
        self.chunk_no = chunk_no
        self.start = start
        self.n_items = 0

    @event("ItemRecorded")
    def record_item(
        self,
        run_id: str,
        run_item_id: str,
        dataset_item_id: str,
        position: int,
        repetition: int,
        status: str,
        output: Any,
        error: str | None,
        events: list[dict[str, Any]],
        started_at: str,
        duration_ms: float,
        scores: list[dict[str, Any]],
        attempts: int,
        tokens: int,
    ) -> None:
        """One run item, as chunks recorded it before ``ItemsRecorded`` (kept to read them; applied by
        ``_item_applied``). Its parameters are the fields of each item of an ``ItemsRecorded`` (``ITEM_FIELDS``)."""

    @event("ItemsRecorded")
    def _items_recorded(self, items: list[dict[str, Any]]) -> None:
        """Applied by ``_items_applied`` (not by this body: see there)."""

    def record_items(self, records: Sequence[dict[str, Any]]) -> None:
        """Record the chunk's run items in one ``ItemsRecorded`` event (``items_of`` the records), in position order.
        One event per chunk, not per item: building, encoding and inserting a library event per item was about a
        third of the Python time of the thread that records a fast target's items (docs/benchmarks.md)."""
        self.record(items_of(records))

    def record(self, items: list[dict[str, Any]]) -> None:
        """``record_items`` of items ``items_of`` made already (a save digests them first)."""
        if self.n_items:
            raise Conflict(f"run chunk {self.id} holds its items already")
        self.trigger_event(self.ItemsRecorded, items=items)  # type: ignore[attr-defined]


# the fields of an ItemRecorded event: record_item's parameters
ITEM_FIELDS = tuple(inspect.signature(RunChunk.__dict__["record_item"].decorated_func).parameters)[1:]


def completion_sources(
    experiment_version_id: Any, spec: dict[str, Any], dataset_digest: str | None, results: str | None,
    counts: dict[str, int],
) -> dict[str, Any]:  # fmt: skip
    target = spec.get("target") or {}
    return {
        "experiment_version_id": str(experiment_version_id),
        "definition": digests.digest(spec),
        "dataset": dataset_digest,
        "deployment": target.get("code_digest") or target.get("build"),
        "results": results,
        "counts": counts,
    }


def _no_digest(state: dict[str, Any]) -> None:
    """Events recorded before hash chains: no digest (``audit verify`` reports such runs as unchained)."""
    state.setdefault("digest", None)


def _started_v1_v2(state: dict[str, Any]) -> None:
    state.setdefault("dataset_digest", None)
    state.setdefault("digest", None)


def _opened_v1_v2(state: dict[str, Any]) -> None:
    state.setdefault("item_digests", None)


def _shards_planned_v1_v2(state: dict[str, Any]) -> None:
    """Shards planned before local runs were sharded too: only the worker pool's runs were."""
    state.setdefault("pooled", True)


for _event, _upcast in (
    (Run.Started, _started_v1_v2), (Run.ChunkRecorded, _no_digest), (Run.Completed, _no_digest),  # type: ignore[attr-defined]
    (RunChunk.Opened, _opened_v1_v2), (Run.ShardsPlanned, _shards_planned_v1_v2),  # type: ignore[attr-defined]
):  # fmt: skip
    _event.class_version = 2
    _event.upcast_v1_v2 = staticmethod(_upcast)


def _item_recorded_v1_v2(state: dict[str, Any]) -> None:
    """Items recorded before retries and token counts existed: one attempt, no tokens known."""
    state.setdefault("attempts", 1)
    state.setdefault("tokens", 0)


RunChunk.ItemRecorded.class_version = 2  # type: ignore[attr-defined]
RunChunk.ItemRecorded.upcast_v1_v2 = staticmethod(_item_recorded_v1_v2)  # type: ignore[attr-defined]


def _item_applied(event: Any, chunk: RunChunk) -> None:
    """What an ``ItemRecorded`` does to its chunk, once per item of every run recorded or read back. The decorator's
    own ``apply`` copies the event's 17 fields into a dict and filters them by ``record_item``'s signature to call its
    body: about 4% of a worker's time recording an echo target's items (docs/benchmarks.md)."""
    chunk.n_items += 1


RunChunk.ItemRecorded.apply = _item_applied  # type: ignore[attr-defined]


def _items_applied(event: Any, chunk: RunChunk) -> None:
    """What an ``ItemsRecorded`` does to its chunk (the decorator's ``apply`` would copy the items' list into a dict
    of arguments, filter it by the method's signature and call an empty body)."""
    chunk.n_items += len(event.items)


RunChunk.ItemsRecorded.apply = _items_applied  # type: ignore[attr-defined]


def items_of(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items an ``ItemsRecorded`` holds for these records: ``ITEM_FIELDS`` of each (a key it does not take is
    left out); a record missing one is refused, naming it."""
    items = []
    for record in records:
        missing = [name for name in ITEM_FIELDS if name not in record]
        if missing:
            raise Invalid(f"a recorded item needs {', '.join(missing)}", field="records")
        items.append({name: record[name] for name in ITEM_FIELDS})
    return items


def chunk_items(event_name: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The run items a stored ``RunChunk`` event holds, by its class's name (``RunChunk.ItemsRecorded``) and its
    payload (decoded state or attributes): every item of an ``ItemsRecorded``, the one item of an older
    ``ItemRecorded`` (its payload; ``ITEM_FIELDS`` of it are the item), none for any other event."""
    if event_name.endswith("ItemsRecorded"):
        return list(payload["items"])
    if event_name.endswith("ItemRecorded"):
        return [payload]
    return []


owned_by_project(Run.Started, RunChunk.Opened)  # type: ignore[attr-defined]
