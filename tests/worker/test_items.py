"""A run's worker holds a few chunks of its dataset version's items, never all of them (issue 16: its memory must
not grow with the run's size), on both stores; and it reads the right item for every position, from the start or
from anywhere a run resumes."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import orjson

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.app_datasets import ITEMS_PER_EVENT
from agnt5_evals.domain.model import DatasetVersion, DatasetVersionChunk
from agnt5_evals.domain.runs import Run
from agnt5_evals.projections import queries
from agnt5_evals.services import operations
from agnt5_evals.worker import shards
from agnt5_evals.worker.dispatch import Dispatch
from agnt5_evals.worker.items import Positions, SharedChunks, VersionItems
from agnt5_evals.worker.scoring import ScorerRuntime
from agnt5_evals.worker.shards import execute_shard
from tests.support import definition, execute

N_ITEMS = 2_600  # six chunks of the version (500 items each at most)


def big_version(services: Services, n: int = N_ITEMS) -> DatasetVersion:
    app = services.app
    ds = app.create_dataset("big")
    app.add_items(ds.id, [{"input": {"n": i}, "expected_output": {"n": i}} for i in range(n)])
    return app.get(DatasetVersion, app.publish(ds.id).id, "dataset version")


class Counted(VersionItems):
    """VersionItems that remembers the most items it ever held at once."""

    most = 0

    def ensure(self, index: int) -> int:
        end = super().ensure(index)
        self.most = max(self.most, sum(len(items) for items in self.held.values()))
        return end


def test_a_run_holds_a_window_of_its_items_not_all_of_them(services, world):
    version = big_version(services)
    spec = definition(version.dataset_id, version.id, world["good"], "exact_match", concurrency=4)
    exp = services.app.create_experiment("big", "", spec)
    run = services.app.get(Run, services.app.start_run(exp.id).id, "run")
    items = Counted.of(services.app, version)
    assert isinstance(items, Counted)
    scoring = ScorerRuntime(lambda _: None, lambda _: None)
    dispatch = Dispatch(services.app, scoring, run, lambda ctx, data: data, items, chunk_items=50)
    try:
        assert dispatch.drive().status == "completed"
    finally:
        scoring.close()
    # the items of the window dispatched ahead, and the chunks on either side of it, whatever the version's size
    assert 0 < items.most <= dispatch.window + 2 * ITEMS_PER_EVENT < N_ITEMS / 2, items.most
    assert len(items.held) <= 2  # what is left once the last positions are taken: the last chunk or two
    services.catch_up()
    summary = operations.summary(services, str(run.id))
    assert (summary["status"], summary["done_items"], summary["passed_items"]) == ("completed", N_ITEMS, N_ITEMS)
    rows = queries.run_items(services.view, str(run.id))
    outputs = [orjson.loads(r["output"]) if isinstance(r["output"], str | bytes) else r["output"] for r in rows]
    assert sorted(r["position"] for r in rows) == list(range(N_ITEMS))
    assert all(out == {"n": r["position"]} for out, r in zip(outputs, rows, strict=True))  # each position, its item


def test_the_executor_never_reads_a_version_whole(services, world, monkeypatch):
    """The embedded worker (``worker.execute``, what ``experiments run`` hands a run to) reads the items through
    ``VersionItems``: reading the whole version is refused here, and the run completes anyway."""
    version = big_version(services, 1_200)
    spec = definition(version.dataset_id, version.id, world["good"], "json_valid", concurrency=4)
    exp = services.app.create_experiment("big", "", spec)
    run_id = services.app.start_run(exp.id).id

    def whole(*_: object) -> None:
        raise AssertionError("a run's worker read every item of its dataset version")

    monkeypatch.setattr(type(services.app), "version_items", whole)
    assert execute(services, run_id, chunk_items=100) == "completed"
    assert operations.summary(services, str(run_id))["done_items"] == 1_200


def test_any_item_is_read_from_its_chunk_alone(services):
    version = big_version(services)
    everything = services.app.version_items(version)
    items = VersionItems.of(services.app, version)
    rng = random.Random(16)
    for index in [0, 499, 500, N_ITEMS - 1, *rng.sample(range(N_ITEMS), 20)]:  # a run resuming anywhere
        end = items.ensure(index)
        assert items.get(index) == everything[index]
        assert index < end <= N_ITEMS
        items.drop_below(end)  # nothing before the chunk's end is needed any more
        assert not items.held
    for index in range(N_ITEMS):  # in order, as a run proceeds: one chunk held at a time
        items.ensure(index)
        assert items.get(index) == everything[index]
        items.drop_below(index)
        assert len(items.held) == 1


def test_a_run_in_order_reads_each_chunk_of_its_version_once(services):
    version = big_version(services)
    reads: list[UUID] = []

    def load(chunk_id: UUID) -> DatasetVersionChunk:
        reads.append(chunk_id)
        return services.app.get(DatasetVersionChunk, chunk_id, "dataset version chunk")

    items = VersionItems(load, version)
    for index in range(N_ITEMS):
        items.ensure(index)
        items.get(index)
        items.drop_below(index)
    assert reads == [UUID(c) for c in version.chunk_ids]


def test_positions_are_ranges_indexed_without_listing_them():
    ranges = [(3, 6), (6, 6), (10, 12), (40, 41)]
    positions = Positions(ranges)
    listed = [p for start, end in ranges for p in range(start, end)]
    assert len(positions) == len(listed) and list(positions) == listed and positions[-1] == 40
    assert positions[1:4] == listed[1:4]


def _pool_run(services: Services, world: dict, version: DatasetVersion, shard_size: int) -> Run:
    services.app.shard_runs = True
    spec = definition(version.dataset_id, version.id, world["good"], "exact_match", concurrency=4)
    spec["target"] |= {"component_name": "echo", "component_type": "function"}  # each output its own item
    exp = services.app.create_experiment("pooled", "", spec)
    return services.app.get(Run, services.app.start_run(exp.id, config={"shard_size": shard_size}).id, "run")


def _counted_chunks(services: Services, monkeypatch: Any) -> list[UUID]:
    """The chunks the pool's shards read from the store, in order (reading the version whole is refused)."""
    reads: list[UUID] = []

    def of(app: Any, version: DatasetVersion) -> SharedChunks:
        def load(chunk_id: UUID) -> DatasetVersionChunk:
            reads.append(chunk_id)
            return app.get(DatasetVersionChunk, chunk_id, "dataset version chunk")

        return SharedChunks(load, version)

    def whole(*_: object) -> None:
        raise AssertionError("a shard read every item of its dataset version")

    monkeypatch.setattr(SharedChunks, "of", of)
    monkeypatch.setattr(type(services.app), "version_items", whole)
    return reads


def test_a_pool_worker_reads_each_chunk_once_for_shards_in_order_and_keeps_a_few(services, world, monkeypatch):
    """The worker pool's shards of one run (``worker.shards``) read the version's chunks through ``SharedChunks``:
    in order, each chunk once (a shard finds its chunk from what the shards before it found), and what stays kept
    between shards is a few chunks, not the version."""
    version = big_version(services)
    reads = _counted_chunks(services, monkeypatch)
    run = _pool_run(services, world, version, shard_size=100)
    assert run.n_shards == 26
    for shard in range(run.n_shards):
        assert execute_shard(services, run.id, shard).startswith("recorded")
    assert reads == [UUID(c) for c in version.chunk_ids]
    _, chunks = shards._kept[run.id].result()
    assert len(chunks.recent) <= chunks.keep < len(version.chunk_ids)
    services.catch_up()
    summary = operations.summary(services, str(run.id))
    assert (summary["status"], summary["passed_items"]) == ("completed", N_ITEMS)


def test_shards_in_any_order_read_the_right_items(services, world, monkeypatch):
    version = big_version(services)
    reads = _counted_chunks(services, monkeypatch)
    run = _pool_run(services, world, version, shard_size=130)
    order = list(range(run.n_shards))
    random.Random(16).shuffle(order)
    for shard in order:
        assert execute_shard(services, run.id, shard).startswith("recorded")
    assert len(reads) <= 2 * run.n_shards  # at most the chunk or two a shard spans, bisection included
    services.catch_up()
    summary = operations.summary(services, str(run.id))
    assert (summary["status"], summary["passed_items"]) == ("completed", N_ITEMS)  # exact_match: each its own item
    rows = queries.run_items(services.view, str(run.id))
    outputs = [orjson.loads(r["output"]) if isinstance(r["output"], str | bytes) else r["output"] for r in rows]
    assert all(out == {"n": r["position"]} for out, r in zip(outputs, rows, strict=True))


def test_shards_of_a_run_at_once_in_one_process_read_each_chunk_about_once(services, world, monkeypatch):
    """A pool worker executes a few shards of a run at once (``AGNT5_SHARD_WINDOW``): a chunk they all need is
    read once and awaited by the others, and a shard finds its chunk from the bounds the others found, without
    reading chunks it does not need."""
    version = big_version(services)
    reads = _counted_chunks(services, monkeypatch)
    run = _pool_run(services, world, version, shard_size=100)
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda shard: execute_shard(services, run.id, shard), range(run.n_shards)))
    assert all(status.startswith("recorded") for status in done), done
    assert set(reads) == {UUID(c) for c in version.chunk_ids}
    # each chunk once, but for one a shard that stalled past 4 newer chunks would read again
    assert len(reads) <= len(version.chunk_ids) + 2, len(reads)
    services.catch_up()
    summary = operations.summary(services, str(run.id))
    assert (summary["status"], summary["passed_items"]) == ("completed", N_ITEMS)
