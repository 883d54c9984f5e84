"""Run and RunChunk without a store: every command, every invariant, and replay giving the same state."""

from __future__ import annotations

from uuid import uuid4

import pytest

from agnt5_evals.domain import ids
from agnt5_evals.domain.errors import Conflict, Invalid
from agnt5_evals.domain.runs import Run, RunChunk, chunk_items
from tests.support import replayed

COUNTS = {"passed": 2, "failed": 1, "errored": 0}


def new_run(n_items: int = 3, repetitions: int = 2) -> Run:
    return Run(experiment_id=uuid4(), experiment_version_id=uuid4(), dataset_id=uuid4(), dataset_version_id=uuid4(),
               name="r", spec={"config": {}}, n_items=n_items, repetitions=repetitions)  # fmt: skip


def state(run: Run) -> tuple:
    return (run.status, run.chunks, run.next_position, run.n_passed, run.n_failed, run.n_errored, run.rescores,
            run.rescoring, run.version)  # fmt: skip


def test_a_run_starts_running_with_nothing_recorded():
    run = new_run()
    names, copy = replayed(run)
    assert names == ["Run.Started"]
    assert (run.status, run.total, run.chunks, run.next_position) == ("running", 6, 0, 0)
    assert state(copy) == state(run)


def test_chunks_are_counted_in_order_and_replay_the_same():
    run = new_run()
    run.record_chunk(0, 0, 3, COUNTS, "")
    run.record_chunk(1, 3, 6, {"passed": 0, "failed": 0, "errored": 3}, "")
    run.complete()
    names, copy = replayed(run)
    assert names == ["Run.Started", "Run.ChunkRecorded", "Run.ChunkRecorded", "Run.Completed"]
    assert state(run) == ("completed", 2, 6, 2, 1, 3, (), None, 4)
    assert state(copy) == state(run)


@pytest.mark.parametrize(
    ("chunk_no", "start", "end"),
    [
        (2, 3, 4),  # skips chunk 1
        (0, 3, 4),  # chunk 0 again
        (1, 4, 5),  # leaves a gap after position 3
        (1, 2, 4),  # overlaps the first chunk
        (1, 3, 3),  # empty
        (1, 3, 7),  # past the run's 6 items
    ],
)
def test_a_chunk_out_of_order_is_refused(chunk_no, start, end):
    run = new_run()
    run.record_chunk(0, 0, 3, COUNTS, "")
    follows = rf"chunk {chunk_no} \[{start}, {end}\) does not follow what shard 0 recorded up to 3"
    with pytest.raises(Conflict, match=follows):
        run.record_chunk(chunk_no, start, end, COUNTS, "")
    assert (run.chunks, run.next_position, run.n_passed) == (1, 3, 2)  # nothing changed


def test_a_first_chunk_must_start_at_zero():
    with pytest.raises(Conflict, match="does not follow"):
        new_run().record_chunk(0, 1, 3, COUNTS, "")


def test_a_run_completes_only_once_every_item_is_recorded():
    run = new_run()
    run.record_chunk(0, 0, 5, COUNTS, "")
    with pytest.raises(Conflict, match="1 items are not recorded yet"):
        run.complete()
    assert run.status == "running"


@pytest.mark.parametrize(("end", "status"), [("fail", "failed"), ("cancel", "cancelled")])
def test_a_run_fails_or_is_cancelled_with_a_reason(end, status):
    run = new_run()
    getattr(run, end)("why")
    names, copy = replayed(run)
    assert names == ["Run.Started", f"Run.{status.capitalize()}"]
    assert run.status == copy.status == status


@pytest.mark.parametrize("end", ["complete", "fail", "cancel"])
def test_a_finished_run_takes_no_more_chunks_or_endings(end):
    run = new_run(n_items=1, repetitions=1)
    run.record_chunk(0, 0, 1, COUNTS, "")
    getattr(run, end)(*([] if end == "complete" else ["why"]))
    for change in (lambda: run.record_chunk(1, 1, 1, COUNTS, ""), run.complete, lambda: run.fail("x"),
                   lambda: run.cancel("x")):  # fmt: skip
        with pytest.raises(Conflict, match=rf"run {run.id} is {run.status}"):
            change()


def completed_run() -> Run:
    run = new_run(n_items=1, repetitions=1)
    run.record_chunk(0, 0, 1, {"passed": 1, "failed": 0, "errored": 0}, "")
    run.complete()
    return run


def test_a_replacing_rescore_moves_the_counts_and_ends():
    run, rescore = completed_run(), uuid4()
    run.start_rescore(rescore)
    run.record_rescore(rescore, {"passed": -1, "failed": 1, "errored": 0})
    run.end_rescore(rescore)
    names, copy = replayed(run)
    assert names[-3:] == ["Run.RescoreStarted", "Run.ChunkRescored", "Run.RescoreEnded"]
    assert (run.n_passed, run.n_failed, run.rescores, run.rescoring) == (0, 1, (str(rescore),), None)
    assert state(copy) == state(run)


@pytest.mark.parametrize("make", [new_run, lambda: (r := new_run(), r.cancel("x"))[0]])
def test_only_a_completed_run_can_be_rescored(make):
    run = make()
    with pytest.raises(Conflict, match="only a completed run can be rescored"):
        run.start_rescore(uuid4())


def test_one_replacing_rescore_at_a_time():
    run, first = completed_run(), uuid4()
    run.start_rescore(first)
    with pytest.raises(Conflict, match=f"is being rescored by {first}"):
        run.start_rescore(uuid4())
    run.end_rescore(first)
    run.start_rescore(uuid4())  # free again once the first ended
    assert len(run.rescores) == 2


def test_only_the_active_rescore_moves_the_counts():
    run, active, other = completed_run(), uuid4(), uuid4()
    with pytest.raises(Conflict, match=f"is not being rescored by {active}"):
        run.record_rescore(active, {"passed": 0, "failed": 0, "errored": 0})
    run.start_rescore(active)
    with pytest.raises(Conflict, match=f"is not being rescored by {other}"):
        run.record_rescore(other, {"passed": -1, "failed": 1, "errored": 0})
    assert run.n_passed == 1


def test_ending_a_rescore_that_is_not_active_records_nothing():
    run, active = completed_run(), uuid4()
    run.start_rescore(active)
    version = run.version
    run.end_rescore(uuid4())
    assert (run.version, run.rescoring) == (version, str(active))


def test_a_run_chunk_has_a_deterministic_id_and_counts_its_items():
    run_id = uuid4()
    chunk = RunChunk(run_id=run_id, chunk_no=3, start=30)
    assert chunk.id == RunChunk.create_id(run_id, 3) == ids.run_chunk_id(run_id, 3) != RunChunk.create_id(run_id, 4)
    for position in (30, 31):
        chunk.record_item(run_id=str(run_id), run_item_id=str(uuid4()), dataset_item_id="i", position=position,
                          repetition=0, status="passed", output=1, error=None, events=[], started_at="t",
                          duration_ms=1.0, scores=[], attempts=1, tokens=0)  # fmt: skip
    names, copy = replayed(chunk)
    assert names == ["RunChunk.Opened", "RunChunk.ItemRecorded", "RunChunk.ItemRecorded"]
    assert (copy.run_id, copy.chunk_no, copy.start, copy.n_items) == (run_id, 3, 30, 2)


def test_a_chunk_records_its_items_in_one_event_holding_what_an_item_event_held():
    run_id = uuid4()
    record = {"run_id": str(run_id), "run_item_id": "r", "dataset_item_id": "i", "position": 0, "repetition": 0,
              "status": "failed", "output": {"a": [1]}, "error": None, "events": [{"e": 1}], "started_at": "t",
              "duration_ms": 2.5, "scores": [{"id": "s"}], "attempts": 2, "tokens": 7}  # fmt: skip
    one, bulk = RunChunk(run_id=run_id, chunk_no=0, start=0), RunChunk(run_id=run_id, chunk_no=0, start=0)
    one.record_item(**record)  # how a chunk recorded an item before ItemsRecorded
    bulk.record_items([{**record, "unknown": "left out"}, {**record, "position": 1}])
    (_, item), (_, items) = one.collect_events(), bulk.collect_events()
    assert type(items).__qualname__ == "RunChunk.ItemsRecorded" and bulk.n_items == 2
    assert items.items == [record, {**record, "position": 1}]  # type: ignore[attr-defined]
    assert chunk_items("RunChunk.ItemRecorded", vars(item))[0] == vars(item)
    assert [{k: i[k] for k in record} for i in chunk_items("RunChunk.ItemRecorded", vars(item))] == [record]
    assert chunk_items("RunChunk.ItemsRecorded", vars(items)) == items.items  # type: ignore[attr-defined]
    assert chunk_items("RunChunk.Opened", {"run_id": "r"}) == []
    again = RunChunk(run_id=run_id, chunk_no=0, start=0)
    again.record_items([record, {**record, "position": 1}])
    names, copy = replayed(again)
    assert names == ["RunChunk.Opened", "RunChunk.ItemsRecorded"] and copy.n_items == 2
    with pytest.raises(Conflict, match="holds its items already"):
        copy.record_items([{**record, "position": 2}])


def test_a_record_missing_a_field_is_refused_naming_it():
    chunk = RunChunk(run_id=uuid4(), chunk_no=0, start=0)
    with pytest.raises(Invalid, match="tokens") as refused:
        chunk.record_items([{"run_id": "r", "run_item_id": "i", "dataset_item_id": "d", "position": 0,
                             "repetition": 0, "status": "passed", "output": 1, "error": None, "events": [],
                             "started_at": "t", "duration_ms": 1.0, "scores": [], "attempts": 1}])  # fmt: skip
    assert refused.value.field == "records"


def test_an_item_recorded_before_retries_and_tokens_existed_is_upcast():
    state = {"status": "passed"}
    RunChunk.ItemRecorded.upcast_v1_v2(state)  # type: ignore[attr-defined]
    assert state == {"status": "passed", "attempts": 1, "tokens": 0}


ONE = {"passed": 1, "failed": 0, "errored": 0}


def sharded(n_items: int = 5, shard_size: int = 2) -> Run:
    run = new_run(n_items, 1)
    run.plan_shards(shard_size, pooled=False)
    return run


def test_shards_are_recorded_in_chunks_from_their_own_watermarks_in_any_order_and_replay_the_same():
    run = sharded()
    assert (run.n_shards, [run.shard_bounds(s) for s in range(3)]) == (3, [(0, 2), (2, 4), (4, 5)])
    run.record_chunk(2, 2, 3, ONE, "")  # half of shard 1 (a chunk's number is its start)
    assert (run.mark(1), run.is_complete(1), run.is_recorded(2), run.is_recorded(3)) == (3, False, True, False)
    run.record_chunk(4, 4, 5, ONE, "")  # shard 2, whole
    run.record_chunk(0, 0, 2, {"passed": 2, "failed": 0, "errored": 0}, "")
    run.record_chunk(3, 3, 4, ONE, "")
    assert (run.shards, run.partial, run.next_position, run.n_passed) == ((2, 0, 1), (), 5, 5)
    assert run.chunk_numbers() == [0, 2, 3, 4]
    run.complete()
    names, copy = replayed(run)
    assert names.count("Run.ChunkRecorded") == 4 and names[1] == "Run.ShardsPlanned"
    assert (copy.shards, copy.chunk_nos, copy.mark(1)) == (run.shards, run.chunk_nos, 4)
    assert state(copy) == state(run)


@pytest.mark.parametrize(
    ("chunk_no", "start", "end"),
    [
        (3, 3, 4),  # skips position 2, its shard's watermark
        (2, 2, 5),  # crosses the end of shard 1
        (0, 0, 1),  # shard 0 again
        (1, 2, 3),  # numbered otherwise than its start
        (2, 2, 2),  # empty
    ],
)
def test_a_chunk_that_does_not_follow_its_shard_s_watermark_is_refused(chunk_no, start, end):
    run = sharded()
    run.record_chunk(0, 0, 2, {"passed": 2, "failed": 0, "errored": 0}, "")
    with pytest.raises(Conflict, match="does not follow what shard"):
        run.record_chunk(chunk_no, start, end, ONE, "")
    assert (run.shards, run.partial, run.next_position) == ((0,), (), 2)  # nothing changed


def test_a_run_from_before_shards_is_one_shard_of_every_position():
    run = new_run()
    assert (run.shard_size, run.n_shards, run.shard_bounds(0), run.mark(0)) == (None, 1, (0, 6), 0)
    run.record_chunk(0, 0, 4, COUNTS, "")
    assert (run.mark(0), run.chunk_no_at(4), run.chunk_numbers()) == (4, 1, [0])


def test_a_big_run_gets_bigger_shards_and_whether_it_is_pooled_is_recorded():
    run = new_run(250_000, 1)
    run.plan_shards(100, pooled=True)
    assert (run.shard_size, run.n_shards, run.pooled) == (250, 1_000, True)
    names, copy = replayed(run)
    assert names == ["Run.Started", "Run.ShardsPlanned"] and (copy.shard_size, copy.pooled) == (250, True)
    local = sharded()
    assert (local.shard_size, local.pooled) == (2, False)


def test_shards_planned_by_the_version_before_local_runs_were_sharded_are_pooled(services):
    """A version 1 ``ShardsPlanned`` (no ``pooled``), stored and read back through the store's mapper."""
    run = new_run(4, 1)
    run.plan_shards(2, pooled=False)
    stored = [services.app.mapper.to_stored_event(e) for e in run.collect_events()]
    state = services.app.mapper.transcoder.decode(stored[1].state)
    state.pop("pooled")
    state["class_version"] = 1
    stored[1] = stored[1].__class__(stored[1].originator_id, stored[1].originator_version, stored[1].topic,
                                    services.app.mapper.transcoder.encode(state))  # fmt: skip
    copy = None
    for event in map(services.app.mapper.to_domain_event, stored):
        copy = event.mutate(copy)
    assert copy is not None and (copy.shard_size, copy.pooled) == (2, True)


def test_a_run_recorded_a_whole_shard_per_chunk_numbered_by_shard_goes_on_without_colliding():
    """A pool run in flight across the upgrade: its chunks were whole shards numbered by shard; the ones recorded
    after are numbered by start, unless a shard's number holds that number (then total + start). A snapshot of
    that version has no chunk numbers: its whole shards are its chunks."""
    run = sharded(10, 2)  # shards [0, 2) [2, 4) [4, 6) [6, 8) [8, 10)
    run._chunk_recorded(chunk_no=2, start=4, end=6, n_passed=2, n_failed=0, n_errored=0, digest=None)  # shard 2
    run._chunk_recorded(chunk_no=4, start=8, end=10, n_passed=2, n_failed=0, n_errored=0, digest=None)  # shard 4
    del run.__dict__["chunk_nos"]  # restored from that version's snapshot
    assert run.chunk_numbers() == [2, 4]
    assert (run.chunk_no_at(0), run.chunk_no_at(2), run.chunk_no_at(6)) == (0, 12, 6)
    with pytest.raises(Conflict, match="does not follow"):
        run.record_chunk(2, 2, 3, ONE, "")  # shard 2's chunk has that number
    run.record_chunk(12, 2, 3, ONE, "")  # shard 1's first half
    run.record_chunk(3, 3, 4, ONE, "")  # 3 is free
    run.record_chunk(0, 0, 2, {"passed": 2, "failed": 0, "errored": 0}, "")
    run.record_chunk(6, 6, 8, {"passed": 2, "failed": 0, "errored": 0}, "")
    assert run.chunk_numbers() == [0, 2, 3, 4, 6, 12]
    assert len(set(run.chunk_numbers())) == run.chunks == 6
    run.complete()
    assert (run.status, run.next_position) == ("completed", 10)
