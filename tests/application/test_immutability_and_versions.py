"""Published dataset versions and experiment versions never change; runs snapshot definitions."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError

from agnt5_evals.domain.errors import Conflict, Invalid
from agnt5_evals.domain.model import DatasetVersion, ExperimentVersion
from agnt5_evals.domain.runs import Run, RunChunk
from agnt5_evals.projections import queries
from tests.support import definition, execute


def test_published_version_never_changes(services, world):
    app = services.app
    v1 = app.get(DatasetVersion, world["version"], "dataset version")
    before = app.version_items(v1)
    app.add_items(world["dataset"], [{"input": {"order_id": 99}}])
    v2 = app.publish(world["dataset"])
    assert v2.number == 2
    assert app.version_items(app.get(DatasetVersion, world["version"], "dataset version")) == before
    services.catch_up()
    assert len(queries.version_items(services.view, str(world["version"]))) == 10
    assert len(queries.version_items(services.view, str(v2.id))) == 11
    assert [v["number"] for v in queries.dataset_versions(services.view, str(world["dataset"]))] == [1, 2]


def test_republishing_an_unchanged_draft_is_a_conflict(services, world):
    head = services.app.recorder.max_notification_id()
    with pytest.raises(Conflict, match="no unpublished changes"):
        services.app.publish(world["dataset"])
    assert services.app.recorder.max_notification_id() == head


def test_invalid_items_are_rejected_whole(services, world):
    head = services.app.recorder.max_notification_id()
    with pytest.raises(Invalid, match="item 2: field 'input' is required"):
        services.app.add_items(world["dataset"], [{"input": 1}, {"expected_output": 2}])
    assert services.app.recorder.max_notification_id() == head


def test_runs_reuse_the_version_until_the_definition_changes(services, world):
    app = services.app
    exp = app.create_experiment("e", "", definition(world["dataset"], world["version"], world["good"]))
    first = app.start_run(exp.id, "one")
    second = app.start_run(exp.id, "two")
    assert (first.number, second.number) == (1, 1)
    v1 = app.get(Run, first.id, "run").experiment_version_id
    assert app.get(Run, second.id, "run").experiment_version_id == v1

    changed = definition(world["dataset"], world["version"], world["good"], "json_valid", passed_threshold=0.5)
    app.update_experiment(exp.id, {"config": changed["config"]})
    third = app.start_run(exp.id, "three")
    assert third.number == 2
    assert app.get(ExperimentVersion, v1, "experiment version").definition["config"] == {}
    assert app.get(Run, third.id, "run").spec["config"] == {"passed_threshold": 0.5}

    rerun = app.start_run(exp.id, "old", experiment_version_id=v1)
    assert app.get(Run, rerun.id, "run").spec["config"] == {}
    services.catch_up()
    assert [v["number"] for v in queries.experiment_versions(services.view, str(exp.id))] == [1, 2]


def test_run_records_every_item_once_in_chunks(services, world):
    app = services.app
    exp = app.create_experiment("e", "", definition(world["dataset"], world["version"], world["bad"]))
    run = app.start_run(exp.id)
    assert execute(services, run.id, chunk_items=3) == "completed"
    stored = app.get(Run, run.id, "run")
    assert (stored.chunks, stored.next_position, stored.n_passed, stored.n_failed) == (4, 10, 5, 5)
    services.catch_up()
    items = queries.run_items(services.view, str(run.id))
    assert [i["position"] for i in items] == list(range(10))
    assert len({i["id"] for i in items}) == 10


def test_recording_a_chunk_twice_collides(services, world):
    app = services.app
    exp = app.create_experiment("e", "", definition(world["dataset"], world["version"], world["good"]))
    run = app.start_run(exp.id)
    app.save(RunChunk(run_id=run.id, chunk_no=0, start=0))
    with pytest.raises(IntegrityError):
        app.save(RunChunk(run_id=run.id, chunk_no=0, start=0))


def test_a_finished_run_cannot_be_cancelled_or_failed(services, world):
    app = services.app
    exp = app.create_experiment("e", "", definition(world["dataset"], world["version"], world["good"]))
    run = app.start_run(exp.id)
    execute(services, run.id)
    with pytest.raises(Conflict, match="is completed"):
        app.cancel_run(run.id)
    with pytest.raises(Conflict, match="is completed"):
        app.fail_run(run.id, "x")


def test_cancel_retries_when_the_worker_records_at_the_same_moment(services, world, monkeypatch):
    app = services.app
    exp = app.create_experiment("e", "", definition(world["dataset"], world["version"], world["good"]))
    run_id = app.start_run(exp.id).id
    stale = app.get(Run, run_id, "run")
    worker_copy = app.get(Run, run_id, "run")  # the worker records a chunk after the cancel read the run
    chunk = RunChunk(run_id=run_id, chunk_no=0, start=0)
    chunk.record_item(run_id=str(run_id), run_item_id="i", dataset_item_id="d", position=0, repetition=0,
                      status="passed", output=1, error=None, events=[], started_at="t", duration_ms=1.0,
                      scores=[], attempts=1, tokens=0)  # fmt: skip
    worker_copy.record_chunk(0, 0, 1, {"passed": 1, "failed": 0, "errored": 0}, "")
    app.save(worker_copy, chunk)
    reads = []
    real_get = app.get

    def get(cls, aggregate_id, what):
        reads.append(cls)
        return stale if len(reads) == 1 else real_get(cls, aggregate_id, what)

    monkeypatch.setattr(app, "get", get)
    app.cancel_run(run_id)
    monkeypatch.undo()
    cancelled = app.get(Run, run_id, "run")
    assert (cancelled.status, cancelled.next_position, len(reads)) == ("cancelled", 1, 2)


def test_two_runs_started_at_once_share_one_new_version(services, world):
    import threading

    app = services.app
    exp = app.create_experiment("e", "", definition(world["dataset"], world["version"], world["good"]))
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(app.start_run(exp.id))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions = {app.get(Run, written.id, "run").experiment_version_id for written in results}
    assert len(results) == 4 and len(versions) == 1


def test_big_items_are_split_across_events_and_a_too_big_item_is_rejected(services, world):
    app = services.app
    ds = app.create_dataset("big")
    app.add_items(ds.id, [{"input": "x" * 300_000, "expected_output": n} for n in range(8)])
    version = app.publish(ds.id)
    stored = app.get(DatasetVersion, version.id, "dataset version")
    assert len(stored.chunk_ids) >= 3  # 8 x 300 KB never go in one save
    assert [item["expected_output"] for item in app.version_items(stored)] == list(range(8))
    services.catch_up()
    assert [row["position"] for row in queries.version_items(services.view, str(version.id))] == list(range(8))
    head = app.recorder.max_notification_id()
    with pytest.raises(Invalid, match=r"item 2: [\d,]+ bytes; an item may take at most 786,432"):
        app.add_items(ds.id, [{"input": 1}, {"input": "x" * 800_000}])
    assert app.recorder.max_notification_id() == head
