"""Application commands that record a run's results (the worker calls them), and which run items a run has."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from agnt5_evals.domain import digests, ids
from agnt5_evals.domain.app_base import Written
from agnt5_evals.domain.app_datasets import DatasetCommands
from agnt5_evals.domain.errors import Invalid, NotFound
from agnt5_evals.domain.model import DatasetVersion
from agnt5_evals.domain.runs import Run, RunChunk, items_of

STATUSES = ("passed", "failed", "errored")
CACHED_RUNS = 4  # runs whose item ids are kept (annotating many items of one run reads its dataset version once)


class RunCommands(DatasetCommands):
    """Record a run's chunks; check that a run item belongs to its run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._item_positions: OrderedDict[UUID, dict[str, int]] = OrderedDict()

    def record_chunk(self, run: Run, records: Sequence[dict[str, Any]]) -> Written:
        """Record the results of a run's items in one chunk, from its shard's watermark on (``record_chunks``)."""
        return self.record_chunks(run, [records])

    def record_chunks(self, run: Run, pieces: Sequence[Sequence[dict[str, Any]]]) -> Written:
        """Record run items in chunks, one atomic save with the run's ``ChunkRecorded`` counter events; the save
        that records the run's last items also completes it (readers see the end sooner).

        Each piece is a chunk of consecutive positions from its shard's watermark on, within the shard
        (``Run.mark``). ``run`` is the worker's own copy, kept between saves, so recording reads nothing: if
        anything else wrote to the run since (a cancel, another worker's shard), the save fails whole with
        ``Conflict`` (reload the run and record what it does not hold yet). A chunk's deterministic id (its
        start position) makes recording the same items twice impossible.
        """
        run.check_running()
        chunks = []
        for records in pieces:
            if not records:
                raise Invalid(f"run {run.id}: a chunk records at least one item", field="records")
            start = records[0].get("position")
            if not isinstance(start, int) or not 0 <= start < run.total:
                raise Invalid(f"run {run.id}: a recorded item's position must be in [0, {run.total})", field="records")
            counts = dict.fromkeys(STATUSES, 0)
            for position, record in enumerate(records, start=start):
                _check_record(record, run.id, position)
                counts[record["status"]] += 1
            stored = items_of(records)  # the digests cover exactly what is stored
            items, locators = digests.items_locators(stored)
            chunk = RunChunk(
                run_id=run.id, chunk_no=run.chunk_no_at(start), start=start, item_digests=locators,
                project_id=run.project_id,
            )  # fmt: skip
            chunk.record(stored)
            run.record_chunk(chunk.chunk_no, start, start + len(records), counts, items)
            chunks.append(chunk)
        if run.next_position == run.total:
            run.complete()
        return Written(run.id, self._save(run, *chunks), chunks[-1].chunk_no if chunks else 0)

    def check_run_item(self, run: Run, run_item_id: str) -> None:
        """A run item belongs to its run once recorded: its id is the run's uuid5 of a dataset item of the run's
        version and a repetition, at a position below the run's watermark (the log decides, not a read model)."""
        position = self._positions(run).get(run_item_id)
        if position is None or not run.is_recorded(position):
            raise NotFound(f"run item {run_item_id} is not part of run {run.id}", field="run_item_id")

    def _positions(self, run: Run) -> dict[str, int]:
        """Every possible item id of the run with its position (immutable: the version and repetitions are)."""
        positions = self._item_positions.get(run.id)
        if positions is None:
            version = self.get(DatasetVersion, run.dataset_version_id, "dataset version")
            k = run.repetitions
            positions = {
                ids.run_item_id_str(run.id, str(item["id"]), r): n * k + r
                for n, item in enumerate(self.version_items(version))
                for r in range(k)
            }
            self._item_positions[run.id] = positions
            while len(self._item_positions) > CACHED_RUNS:
                self._item_positions.popitem(last=False)
        self._item_positions.move_to_end(run.id)
        return positions


def _check_record(record: dict[str, Any], run_id: UUID, position: int) -> None:
    if record.get("position") != position or record.get("run_id") != str(run_id):
        raise Invalid(f"run {run_id}: a recorded item must be at position {position} of this run", field="records")
    if record.get("status") not in STATUSES:
        raise Invalid(
            f"run {run_id}: item status must be one of {', '.join(STATUSES)}, got {record.get('status')!r}",
            field="records",
        )
