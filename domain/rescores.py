"""Rescoring: a completed run's recorded outputs scored again, without executing anything again.

A ``Rescore`` names the run, the scorers (the run's own by default, or others: a fixed config, a new judge, a
custom scorer) and the items (every item that produced an output, or chosen ones). Its results are recorded like a
run's, in ``RescoreChunk``s of ``ItemRescored`` events: the new scores, the item's status with them, and the status
it had before.

A *shadow* rescore (the default) only records: the run's verdict stays as it was, and the new scores are read with
``scores list --rescore-id``. A *replacing* rescore (``replace_latest``) makes its scores the run's current ones:
each chunk is saved together with the Run's ``ChunkRescored`` event carrying the change of the run's counts, so the
run's pass rate and gate follow chunk by chunk and are final when the rescore completes. One replacing rescore at a
time per run (the Run records which one is active).
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from agnt5_evals.domain import digests
from agnt5_evals.domain.errors import Conflict
from agnt5_evals.domain.projects import owned_by_project
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT

MAX_CHOSEN_ITEMS = 10_000  # chosen run item ids travel in the Started event, which must stay small


class Rescore(Aggregate):
    """Scoring a completed run's recorded outputs again. Its chunks form a hash chain, as a run's do."""

    chain: str | None = None  # the last link of the hash chain (None: started before hash chains)
    n_passed = n_failed = n_errored = 0
    project_id = DEFAULT_PROJECT  # its run's

    @staticmethod
    def create_id(run_id: UUID, idempotency_key: str) -> UUID:
        """The same idempotency key for the same run gives the same rescore (a retried request starts nothing)."""
        return uuid.uuid5(run_id, f"rescore-{idempotency_key}") if idempotency_key else uuid.uuid4()

    @event("Started")
    def __init__(
        self,
        run_id: UUID,
        reason: str,
        scorers: list[dict[str, Any]],
        run_item_ids: list[str],
        replace_latest: bool,
        idempotency_key: str,
        total: int,
        digest: str | None = None,
        project_id: str = DEFAULT_PROJECT,
    ) -> None:
        self.project_id = project_id
        self.run_id = run_id
        self.reason = reason
        self.scorers = scorers
        self.run_item_ids = run_item_ids
        self.replace_latest = replace_latest
        self.total = total
        self.status = "running"
        self.chunks = 0
        self.next_position = 0
        self.chain = digest

    @classmethod
    def start(cls, **fields: Any) -> Rescore:
        """A new rescore whose ``Started`` event records the first link of its hash chain."""
        return cls(**fields, digest=digests.started(cls.__init__, fields))

    def check_running(self) -> None:
        if self.status != "running":
            raise Conflict(f"rescore {self.id} is {self.status}")

    def record_chunk(self, chunk_no: int, start: int, end: int, counts: dict[str, int], items: str) -> None:
        """Count a chunk of the selection [start, end) whose results are saved in the same transaction; ``items``
        is the digest of their ``ItemRescored`` events, chained to the previous link."""
        self.check_running()
        if chunk_no != self.chunks or start != self.next_position or not start < end <= self.total:
            raise Conflict(f"rescore {self.id}: chunk {chunk_no} [{start}, {end}) does not follow {self.next_position}")
        self._chunk_recorded(
            chunk_no=chunk_no, start=start, end=end, n_passed=counts["passed"], n_failed=counts["failed"],
            n_errored=counts["errored"],
            digest=None if self.chain is None else digests.chunk(self.chain, chunk_no, start, end, counts, items),
        )  # fmt: skip

    @event("ChunkRecorded")
    def _chunk_recorded(
        self, chunk_no: int, start: int, end: int, n_passed: int, n_failed: int, n_errored: int, digest: str | None
    ) -> None:
        self.chain = digest
        self.chunks = chunk_no + 1
        self.next_position = end
        self.n_passed += n_passed
        self.n_failed += n_failed
        self.n_errored += n_errored

    def complete(self) -> None:
        self.check_running()
        if self.next_position != self.total:
            raise Conflict(f"rescore {self.id}: {self.total - self.next_position} items are not rescored yet")
        self._completed(digest=None if self.chain is None else digests.completed(self.chain, self.provenance()))

    def provenance(self) -> dict[str, Any]:
        """What the completion digest covers: the rescored run and the results."""
        counts = {"passed": self.n_passed, "failed": self.n_failed, "errored": self.n_errored}
        return {"run_id": str(self.run_id), "results": self.chain, "counts": counts}

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


class RescoreChunk(Aggregate):
    """The results of a contiguous slice of a rescore's selection, one event per run item."""

    @staticmethod
    def create_id(rescore_id: UUID, chunk_no: int) -> UUID:
        return uuid.uuid5(rescore_id, f"chunk-{chunk_no}")

    @event("Opened")
    def __init__(self, rescore_id: UUID, chunk_no: int, start: int, item_digests: list[str] | None = None) -> None:
        self.rescore_id = rescore_id
        self.chunk_no = chunk_no
        self.start = start
        self.n_items = 0

    @event("ItemRescored")
    def record_item(
        self,
        rescore_id: str,
        run_id: str,
        run_item_id: str,
        position: int,
        scores: list[dict[str, Any]],
        status: str,
        previous_status: str,
        replaced: list[dict[str, Any]],
        applied: bool,
    ) -> None:
        """``scores``: the new scores; ``applied``: they become the run's current scores (a replacing rescore),
        superseding ``replaced``."""
        self.n_items += 1


def _no_digest(state: dict[str, Any]) -> None:
    """Events recorded before hash chains: no digest (``audit verify`` reports such rescores as unchained)."""
    state.setdefault("digest", None)


def _opened_v1_v2(state: dict[str, Any]) -> None:
    state.setdefault("item_digests", None)


for _event, _upcast in (
    (Rescore.Started, _no_digest), (Rescore.ChunkRecorded, _no_digest), (Rescore.Completed, _no_digest),  # type: ignore[attr-defined]
    (RescoreChunk.Opened, _opened_v1_v2),  # type: ignore[attr-defined]
):  # fmt: skip
    _event.class_version = 2
    _event.upcast_v1_v2 = staticmethod(_upcast)


owned_by_project(Rescore.Started)  # type: ignore[attr-defined]
