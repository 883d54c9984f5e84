"""Sharded runs (the worker pool's unit of work, ``worker.shards``, and the in-process executor's), on both stores:
shards recorded in any order and in chunks, never twice, never after a cancel; the log stays verifiable and
replayable."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain import ids
from agnt5_evals.domain.errors import Conflict, Invalid
from agnt5_evals.domain.model import DatasetVersion
from agnt5_evals.domain.runs import ITEM_FIELDS, Run, RunChunk, chunk_items
from agnt5_evals.projections import queries
from agnt5_evals.services import invariants, operations
from agnt5_evals.services.replay import replay_run
from agnt5_evals.services.verify import verify
from agnt5_evals.worker.dispatch import Dispatch
from agnt5_evals.worker.scoring import ScorerRuntime
from agnt5_evals.worker.shards import execute_shard
from tests.support import definition, execute


def sharded_run(services: Services, world: dict[str, Any], shard_size: int = 3, **config: Any) -> Run:
    services.app.shard_runs = True
    exp = services.app.create_experiment(
        "sharded", "", definition(world["dataset"], world["version"], world["good"], "json_valid", **config)
    )
    written = services.app.start_run(exp.id, config={"shard_size": shard_size})
    return services.app.get(Run, written.id, "run")


def item_rows(services: Services, run_id: UUID) -> list[dict[str, Any]]:
    services.catch_up()
    return queries.run_items(services.view, str(run_id))


def test_shards_recorded_in_any_order_complete_the_run(services, world):
    run = sharded_run(services, world)
    assert (run.shard_size, run.n_shards, run.total) == (3, 4, 10)
    assert [run.shard_bounds(s) for s in range(4)] == [(0, 3), (3, 6), (6, 9), (9, 10)]

    for shard, status in ((2, "running"), (0, "running"), (3, "running"), (1, "completed")):
        assert execute_shard(services, run.id, shard).startswith("recorded")
        assert services.app.get(Run, run.id, "run").status == status

    run = services.app.get(Run, run.id, "run")
    assert (run.shards, run.next_position, run.n_passed) == ((2, 0, 3, 1), 10, 10)
    assert run.chunk_numbers() == [0, 3, 6, 9]  # a chunk's number is its start position
    rows = item_rows(services, run.id)
    assert sorted(row["position"] for row in rows) == list(range(10))
    summary = operations.summary(services, str(run.id))
    assert (summary["status"], summary["done_items"], summary["passed_items"]) == ("completed", 10, 10)

    assert verify(services, run.id)["ok"] is True  # the chain follows the log's order of the shards
    assert invariants.check(services).ok
    assert replay_run(services, run.id)["ok"] is True


def test_a_shard_is_never_recorded_twice(services, world):
    run = sharded_run(services, world)
    assert execute_shard(services, run.id, 1).startswith("recorded")
    head = services.app.recorder.max_notification_id()
    assert execute_shard(services, run.id, 1) == "already recorded"  # a redelivered job executes nothing
    assert services.app.recorder.max_notification_id() == head

    stale = services.app.get(Run, run.id, "run")  # two executions raced: the second one's save collides
    services.app.get(Run, run.id, "run")
    with pytest.raises(Conflict):
        services.app.record_chunk(stale, [dict(row) for row in _records(services, run.id, 3)])
    assert services.app.recorder.max_notification_id() == head


def test_a_redelivered_shard_executes_only_what_its_chunks_do_not_hold(services, world):
    """An item already recorded is never executed again: a shard whose first item was recorded (its worker died
    after that save) executes the rest, from the shard's watermark."""
    run = sharded_run(services, world)
    assert execute_shard(services, run.id, 0).startswith("recorded")
    run = services.app.get(Run, run.id, "run")
    first = _records_like(services, run, 1)[:1]
    first[0]["output"] = {"recorded": "before the worker died"}
    services.app.record_chunk(run, first)
    assert services.app.get(Run, run.id, "run").mark(1) == 4

    assert execute_shard(services, run.id, 1).startswith("recorded")
    run = services.app.get(Run, run.id, "run")
    assert (run.shards, run.chunk_numbers()) == ((0, 1), [0, 3, 4])
    rows = {row["position"]: row for row in item_rows(services, run.id)}
    assert sorted(rows) == list(range(6))
    assert rows[3]["output"] == {"recorded": "before the worker died"}  # not executed again
    assert rows[4]["output"] != rows[3]["output"]
    assert invariants.check(services).ok


def _records(services: Services, run_id: UUID, chunk_no: int) -> list[dict[str, Any]]:
    """The recorded item events of a chunk, as records (what a second execution would hand to record_chunk)."""
    return [
        {name: item[name] for name in ITEM_FIELDS}
        for e in services.app.events.get(RunChunk.create_id(run_id, chunk_no))
        for item in chunk_items(type(e).__qualname__, vars(e))
    ]


def test_nothing_is_recorded_after_a_cancel(services, world):
    run = sharded_run(services, world)
    assert execute_shard(services, run.id, 0).startswith("recorded")
    stale = services.app.get(Run, run.id, "run")
    services.app.cancel_run(run.id)
    head = services.app.recorder.max_notification_id()

    assert execute_shard(services, run.id, 1) == "cancelled"
    with pytest.raises(Conflict):  # a shard that finished before the cancel and saves after it: refused whole
        services.app.record_chunk(stale, _records_like(services, stale, 2))
    assert services.app.recorder.max_notification_id() == head
    assert sorted(row["position"] for row in item_rows(services, run.id)) == [0, 1, 2]
    assert invariants.check(services).ok
    assert verify(services, run.id)["ok"] is True


def _records_like(services: Services, run: Run, shard: int) -> list[dict[str, Any]]:
    """Records for a shard, copied from shard 0's (positions and ids moved): only their shape matters here."""
    start, end = run.shard_bounds(shard)
    model = _records(services, run.id, 0)[0]
    items = services.app.version_items(services.app.get(DatasetVersion, run.dataset_version_id, "dataset version"))
    records = []
    for p in range(start, end):
        run_item = ids.run_item_id_str(run.id, items[p]["id"], 0)
        scores = [{**s, "id": ids.score_id_str(run_item, n, s["key"])} for n, s in enumerate(model["scores"])]
        records.append({**model, "position": p, "dataset_item_id": items[p]["id"], "run_item_id": run_item,
                        "scores": scores})  # fmt: skip
    return records


def test_a_sharded_run_and_a_whole_run_give_the_same_results(services, world):
    run = sharded_run(services, world, shard_size=4)
    for shard in reversed(range(run.n_shards)):
        execute_shard(services, run.id, shard)
    services.app.shard_runs = False
    whole = services.app.start_run(run.experiment_id)
    assert execute(services, whole.id) == "completed"

    def results(run_id: UUID) -> list[tuple[Any, ...]]:
        return [(r["position"], r["dataset_item_id"], r["status"], r["output"]) for r in item_rows(services, run_id)]

    sharded, plain = results(run.id), results(whole.id)
    assert [row[2:] for row in sorted(sharded)] == [row[2:] for row in sorted(plain)]
    assert services.app.get(Run, whole.id, "run").shard_size is None


def test_shard_size_is_checked_as_a_config_key(services, world):
    exp = services.app.create_experiment("c", "", definition(world["dataset"], world["version"], world["good"]))
    with pytest.raises(Invalid) as refused:
        services.app.start_run(exp.id, config={"shard_size": 0})
    assert refused.value.field == "config.shard_size"


def test_a_sharded_run_executes_in_one_process_too(services, world):
    """An inline eval, or a sharded run resumed where the pool is not used: its shards, in order, here."""
    run = sharded_run(services, world, shard_size=4)
    assert execute_shard(services, run.id, 1).startswith("recorded")
    assert execute(services, run.id) == "completed"
    assert sorted(row["position"] for row in item_rows(services, run.id)) == list(range(10))
    assert services.app.get(Run, run.id, "run").shards == (1, 0, 2)
    assert invariants.check(services).ok


def test_a_shard_is_recorded_in_chunks_as_its_items_finish(services, world, monkeypatch):
    """A shard's results are saved in several chunks (by count or by bytes), so a shard of any size stays within
    what one save takes, and progress shows before the shard ends."""
    from agnt5_evals.worker import dispatch

    monkeypatch.setattr(dispatch, "MAX_CHUNK_BYTES", 1)  # every item fills a save by bytes
    run = sharded_run(services, world, shard_size=5)
    assert execute_shard(services, run.id, 0).startswith("recorded")
    run = services.app.get(Run, run.id, "run")
    assert (run.shards, run.chunk_numbers(), run.next_position) == ((0,), [0, 1, 2, 3, 4], 5)
    assert execute(services, run.id, chunk_items=2) == "completed"  # in this process: chunks of 2 at most
    run = services.app.get(Run, run.id, "run")
    assert run.chunk_numbers()[:5] == [0, 1, 2, 3, 4] and len(run.chunk_numbers()) == 10
    assert verify(services, run.id)["ok"] is True
    assert invariants.check(services).ok
    assert replay_run(services, run.id)["ok"] is True


def test_every_run_starts_in_shards_and_executes_them_in_one_process(services, world):
    """The embedded executor runs the pool's code: a run is planned in shards of ``shard_size`` (default 100) and
    its chunks never cross a shard's end."""
    from agnt5_evals.domain.runs import DEFAULT_SHARD_SIZE

    exp = services.app.create_experiment("plain", "", definition(world["dataset"], world["version"], world["good"]))
    plain = services.app.get(Run, services.app.start_run(exp.id).id, "run")
    assert (plain.shard_size, plain.n_shards) == (DEFAULT_SHARD_SIZE, 1)
    run = sharded_run(services, world, shard_size=4)
    assert execute(services, run.id, chunk_items=3) == "completed"
    run = services.app.get(Run, run.id, "run")
    assert run.shards == (0, 1, 2)
    chunks = [services.app.get(RunChunk, RunChunk.create_id(run.id, n), "chunk") for n in run.chunk_numbers()]
    spans = [(chunk.start, chunk.start + chunk.n_items) for chunk in chunks]
    assert all(start // 4 == (end - 1) // 4 for start, end in spans), spans  # within one shard each
    assert sum(end - start for start, end in spans) == 10


def test_the_dispatch_waits_for_a_slow_item_instead_of_spinning(services, world):
    """Nothing can be saved while the item at a shard's watermark runs: the dispatch loop sleeps until the next
    save is due (every 0.05 s at the tail), not in a 1 ms loop. Counted in loop turns, not timed."""
    run = sharded_run(services, world, shard_size=10, concurrency=4)
    version = services.app.get(DatasetVersion, run.dataset_version_id, "dataset version")

    def target(ctx: Any, data: Any) -> Any:
        if data == version_items[0]["input"]:
            time.sleep(1.5)  # the shard's first item: the others finish and wait behind it
        return {"ok": True}

    version_items = services.app.version_items(version)
    scoring = ScorerRuntime(lambda _: None, lambda _: None)
    dispatch = Dispatch(services.app, scoring, run, target, version_items)
    turns = 0
    flush = dispatch._flush

    def counted() -> None:
        nonlocal turns
        turns += 1
        flush()

    dispatch._flush = counted  # type: ignore[method-assign]
    try:
        assert dispatch.drive().next_position == 10
    finally:
        scoring.close()
    assert turns < 200, turns  # 1.5 s / 0.05 s = 30 due saves, plus the wake-ups of finished items and polls
