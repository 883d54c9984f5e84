"""Sharded runs (the worker pool's unit of work, ``worker.shards``), executed in this process on both stores:
shards recorded in any order, never twice, never after a cancel; the log stays verifiable and replayable."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain import ids
from agnt5_evals.domain.errors import Conflict, Invalid
from agnt5_evals.domain.model import DatasetVersion
from agnt5_evals.domain.runs import Run, RunChunk
from agnt5_evals.projections import queries
from agnt5_evals.services import invariants, operations
from agnt5_evals.services.replay import replay_run
from agnt5_evals.services.verify import verify
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
    assert run.chunk_numbers() == [0, 1, 2, 3]
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
        services.app.record_shard(stale, 1, [dict(row) for row in _records(services, run.id, 1)])
    assert services.app.recorder.max_notification_id() == head


def _records(services: Services, run_id: UUID, shard: int) -> list[dict[str, Any]]:
    """The recorded item events of a shard, as records (what a second execution would hand to record_shard)."""
    fields = ("run_id", "run_item_id", "dataset_item_id", "position", "repetition", "status", "output", "error",
              "events", "started_at", "duration_ms", "scores", "attempts", "tokens")  # fmt: skip
    return [
        {name: getattr(e, name) for name in fields}
        for e in services.app.events.get(RunChunk.create_id(run_id, shard))
        if type(e).__qualname__ == "RunChunk.ItemRecorded"
    ]


def test_nothing_is_recorded_after_a_cancel(services, world):
    run = sharded_run(services, world)
    assert execute_shard(services, run.id, 0).startswith("recorded")
    stale = services.app.get(Run, run.id, "run")
    services.app.cancel_run(run.id)
    head = services.app.recorder.max_notification_id()

    assert execute_shard(services, run.id, 1) == "cancelled"
    with pytest.raises(Conflict):  # a shard that finished before the cancel and saves after it: refused whole
        services.app.record_shard(stale, 2, _records_like(services, stale, 2))
    assert services.app.recorder.max_notification_id() == head
    assert sorted(row["position"] for row in item_rows(services, run.id)) == [0, 1, 2]
    assert invariants.check(services).ok
    assert verify(services, run.id)["ok"] is True


def _records_like(services: Services, run: Run, shard: int) -> list[dict[str, Any]]:
    """Records for a shard, copied from shard 0's (positions and ids moved): only their shape matters here."""
    start, end = run.shard_bounds(shard)
    model = _records(services, run.id, 0)[0]
    items = services.app.version_items(services.app.get(DatasetVersion, run.dataset_version_id, "dataset version"))
    return [
        {
            **model,
            "position": p,
            "dataset_item_id": items[p]["id"],
            "run_item_id": ids.run_item_id_str(run.id, items[p]["id"], 0),
        }
        for p in range(start, end)
    ]


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


def test_a_shard_too_big_for_one_save_fails_its_run_with_a_message(services, world, monkeypatch):
    from agnt5_evals.worker import shards

    monkeypatch.setattr(shards, "MAX_SHARD_BYTES", 1000)  # a few items' worth
    run = sharded_run(services, world, shard_size=5)
    head = services.app.recorder.max_notification_id()
    assert execute_shard(services, run.id, 0) == "failed"
    failed = services.app.get(Run, run.id, "run")
    assert failed.status == "failed" and failed.shards == ()
    assert services.app.recorder.max_notification_id() == head + 1  # the Failed event only
    services.catch_up()
    assert "lower the run's shard_size" in queries.run(services.view, str(run.id))["reason"]
