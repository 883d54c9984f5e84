"""Application commands for rescoring a completed run (domain/rescores.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from agnt5_evals.domain import digests
from agnt5_evals.domain.app_base import BaseApplication, Written
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.rescores import MAX_CHOSEN_ITEMS, Rescore, RescoreChunk
from agnt5_evals.domain.runs import Run
from agnt5_evals.domain.tenancy import project_scope


class RescoreCommands(BaseApplication):
    """Start, record (the rescore's worker, worker/rescore.py), complete, cancel and fail rescores."""

    def start_rescore(
        self,
        run_id: UUID,
        scorers: list[dict[str, Any]],
        run_item_ids: list[str],
        total: int,
        reason: str = "",
        replace_latest: bool = False,
        idempotency_key: str = "",
    ) -> Written:
        """Record a rescore of ``total`` items (the chosen ``run_item_ids``, or every item with an output).

        With an ``idempotency_key`` already used for this run, nothing is written and the earlier rescore is
        returned.
        """
        if idempotency_key:
            existing = self._existing(run_id, idempotency_key)
            if existing is not None:
                return existing
        if not scorers:
            raise Invalid("rescore with at least one scorer", field="scorers")
        if len(run_item_ids) > MAX_CHOSEN_ITEMS:
            raise Invalid(f"at most {MAX_CHOSEN_ITEMS:,} chosen items per rescore", field="run_item_ids")
        run = self.get(Run, run_id, "run")
        run.check_rescorable()
        with project_scope(run.project_id):  # its custom scorers must be of the run's project
            self.check_scorers(scorers)
        if total < 1:
            raise Invalid(f"run {run_id} has no item with an output to rescore", field="run_id")
        rescore = Rescore.start(
            run_id=run.id, reason=reason, scorers=scorers, run_item_ids=run_item_ids, replace_latest=replace_latest,
            idempotency_key=idempotency_key, total=total, project_id=run.project_id,
        )  # fmt: skip
        try:
            if replace_latest:
                run.start_rescore(rescore.id)  # a Conflict here too may be the same request, recorded just now
            return Written(rescore.id, self._save(rescore, run) if replace_latest else self._save(rescore))
        except Conflict:
            existing = self._existing(run_id, idempotency_key) if idempotency_key else None
            if existing is None:
                raise
            return existing  # the same request, recorded a moment ago by someone else

    def _existing(self, run_id: UUID, idempotency_key: str) -> Written | None:
        try:
            rescore = self.get(Rescore, Rescore.create_id(run_id, idempotency_key), "rescore")
        except NotFound:
            return None
        return Written(rescore.id, self.recorder.max_notification_id() or 0)

    def record_rescore_chunk(self, rescore: Rescore, records: Sequence[dict[str, Any]]) -> Written:
        """Record the rescore's next results in one atomic save with its ``ChunkRecorded`` counter event and, for a
        replacing rescore, the run's ``ChunkRescored`` event holding the change of the run's counts.

        ``rescore`` is the worker's own copy; if anything else wrote to it since (a cancel), the save fails whole
        with ``Conflict``.
        """
        rescore.check_running()
        start = rescore.next_position
        items, locators = digests.items_locators(records)
        chunk = RescoreChunk(rescore_id=rescore.id, chunk_no=rescore.chunks, start=start, item_digests=locators)
        counts = {"passed": 0, "failed": 0, "errored": 0}
        delta = dict(counts)
        for record in records:
            if record.get("rescore_id") != str(rescore.id) or record.get("applied") != rescore.replace_latest:
                raise Invalid(f"rescore {rescore.id}: a recorded item must belong to this rescore", field="records")
            chunk.record_item(**record)
            counts[record["status"]] += 1
            delta[record["status"]] += 1
            delta[record["previous_status"]] -= 1
        rescore.record_chunk(chunk.chunk_no, start, start + len(records), counts, items)
        to_save: list[Any] = [rescore, chunk]
        if rescore.replace_latest:
            run = self.get(Run, rescore.run_id, "run")
            run.record_rescore(rescore.id, delta)
            to_save.append(run)
        return Written(rescore.id, self._save(*to_save), chunk.chunk_no)

    def complete_rescore(self, rescore_id: UUID) -> Written:
        """Complete a rescore whose every item is recorded, and free its run for another replacing rescore."""
        return self._end_rescore(rescore_id, lambda rescore: rescore.complete())

    def fail_rescore(self, rescore_id: UUID, reason: str) -> Written:
        """Fail a running rescore and free its run for another replacing rescore."""
        return self._end_rescore(rescore_id, lambda rescore: rescore.fail(reason))

    def cancel_rescore(self, rescore_id: UUID, reason: str = "cancelled by user") -> Written:
        """Cancel a running rescore: what it recorded stays, its worker stops, its run is free again."""
        return self._end_rescore(rescore_id, lambda rescore: rescore.cancel(reason))

    def _end_rescore(self, rescore_id: UUID, end: Callable[[Rescore], None], attempts: int = 10) -> Written:
        """End a rescore that its worker may be writing to: on a version clash, reload and retry."""
        for attempt in range(attempts):
            rescore = self.get(Rescore, rescore_id, "rescore")
            end(rescore)
            to_save: list[Any] = [rescore]
            if rescore.replace_latest:
                run = self.get(Run, rescore.run_id, "run")
                run.end_rescore(rescore.id)
                to_save.append(run)
            try:
                return Written(rescore.id, self._save(*to_save))
            except Conflict:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")
