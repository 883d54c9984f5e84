"""Rescore and RescoreChunk without a store: every command, every invariant, and replay giving the same state."""

from __future__ import annotations

import uuid
from uuid import uuid4

import pytest

from agnt5_evals.domain.errors import Conflict
from agnt5_evals.domain.rescores import Rescore, RescoreChunk
from tests.support import replayed

COUNTS = {"passed": 1, "failed": 1, "errored": 0}


def new_rescore(total: int = 4, key: str = "") -> Rescore:
    return Rescore(run_id=uuid4(), reason="r", scorers=[], run_item_ids=[], replace_latest=False,
                   idempotency_key=key, total=total)  # fmt: skip


def test_the_same_idempotency_key_for_the_same_run_is_the_same_rescore():
    run_id = uuid4()
    assert Rescore.create_id(run_id, "k") == Rescore.create_id(run_id, "k") == uuid.uuid5(run_id, "rescore-k")
    assert Rescore.create_id(run_id, "k") not in (Rescore.create_id(uuid4(), "k"), Rescore.create_id(run_id, "j"))
    assert Rescore.create_id(run_id, "") != Rescore.create_id(run_id, "")  # no key: a new rescore each time
    keyed = new_rescore(key="k")
    assert keyed.id == Rescore.create_id(keyed.run_id, "k")


def test_a_rescore_records_chunks_in_order_then_completes():
    rescore = new_rescore()
    assert (rescore.status, rescore.chunks, rescore.next_position) == ("running", 0, 0)
    rescore.record_chunk(0, 0, 2, COUNTS, "")
    rescore.record_chunk(1, 2, 4, COUNTS, "")
    rescore.complete()
    names, copy = replayed(rescore)
    assert names == ["Rescore.Started", "Rescore.ChunkRecorded", "Rescore.ChunkRecorded", "Rescore.Completed"]
    assert (rescore.status, rescore.chunks, rescore.next_position) == ("completed", 2, 4)
    assert (copy.status, copy.chunks, copy.next_position, copy.version) == ("completed", 2, 4, rescore.version)


@pytest.mark.parametrize(("chunk_no", "start", "end"), [(2, 2, 3), (0, 2, 3), (1, 3, 4), (1, 1, 3), (1, 2, 2),
                                                        (1, 2, 5)])  # fmt: skip
def test_a_chunk_out_of_order_is_refused(chunk_no, start, end):
    rescore = new_rescore()
    rescore.record_chunk(0, 0, 2, COUNTS, "")
    with pytest.raises(Conflict, match=rf"chunk {chunk_no} \[{start}, {end}\) does not follow 2"):
        rescore.record_chunk(chunk_no, start, end, COUNTS, "")
    assert (rescore.chunks, rescore.next_position) == (1, 2)


def test_a_rescore_completes_only_once_every_item_is_rescored():
    rescore = new_rescore()
    rescore.record_chunk(0, 0, 3, COUNTS, "")
    with pytest.raises(Conflict, match="1 items are not rescored yet"):
        rescore.complete()


@pytest.mark.parametrize(("end", "status"), [("fail", "failed"), ("cancel", "cancelled")])
def test_a_rescore_fails_or_is_cancelled_and_then_takes_nothing_more(end, status):
    rescore = new_rescore()
    getattr(rescore, end)("why")
    names, copy = replayed(rescore)
    assert (names[-1], rescore.status, copy.status) == (f"Rescore.{status.capitalize()}", status, status)
    for change in (lambda: rescore.record_chunk(0, 0, 1, COUNTS, ""), rescore.complete, lambda: rescore.fail("x"),
                   lambda: rescore.cancel("x")):  # fmt: skip
        with pytest.raises(Conflict, match=rf"rescore {rescore.id} is {status}"):
            change()


def test_a_rescore_chunk_has_a_deterministic_id_and_counts_its_items():
    rescore_id = uuid4()
    chunk = RescoreChunk(rescore_id=rescore_id, chunk_no=1, start=2)
    assert chunk.id == uuid.uuid5(rescore_id, "chunk-1") != RescoreChunk.create_id(rescore_id, 2)
    chunk.record_item(rescore_id=str(rescore_id), run_id=str(uuid4()), run_item_id="i", position=2, scores=[],
                      status="passed", previous_status="failed", replaced=[], applied=True)  # fmt: skip
    names, copy = replayed(chunk)
    assert names == ["RescoreChunk.Opened", "RescoreChunk.ItemRescored"]
    assert (copy.rescore_id, copy.chunk_no, copy.start, copy.n_items) == (rescore_id, 1, 2, 1)
