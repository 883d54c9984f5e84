"""One write path: only Application commands save, and each invariant is checked once, in the domain."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain import ids
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.model import DatasetVersion
from agnt5_evals.domain.rescores import Rescore, RescoreChunk
from agnt5_evals.domain.runs import Run, RunChunk
from agnt5_evals.projections import queries
from tests.support import definition, execute

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE_THE_DOMAIN = ("worker", "services", "adapters", "api", "cli", "sdk", "projections")
JSON_VALID = [{"name": "json_valid", "key": "json_valid", "config": {}}]


def saves_outside_the_domain() -> list[str]:
    """Every ``<something>.save(...)`` or ``._save(...)`` call in the product code outside domain/."""
    found = []
    for folder in OUTSIDE_THE_DOMAIN:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                func = node.func if isinstance(node, ast.Call) else None
                if isinstance(func, ast.Attribute) and func.attr in ("save", "_save"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(func)}(...)")
    return found


def test_only_application_commands_save() -> None:
    assert (ROOT / "worker" / "dispatch.py").exists()  # the scan looks where the product code is
    assert saves_outside_the_domain() == []


def _started(services: Services, world: dict[str, Any], **config: Any) -> tuple[Run, list[dict[str, Any]]]:
    app = services.app
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid", **config)
    experiment = app.create_experiment("exp", "", spec)
    run = app.get(Run, app.start_run(experiment.id).id, "run")
    items = app.version_items(app.get(DatasetVersion, run.dataset_version_id, "dataset version"))
    return run, items


def _record(run: Run, items: list[dict[str, Any]], position: int, status: str = "passed") -> dict[str, Any]:
    item, repetition = items[position // run.repetitions], position % run.repetitions
    return {
        "run_id": str(run.id), "run_item_id": ids.run_item_id_str(run.id, item["id"], repetition),
        "dataset_item_id": item["id"], "position": position, "repetition": repetition, "status": status,
        "output": {"n": position}, "error": None, "events": [], "started_at": "2026-01-01T00:00:00+00:00",
        "duration_ms": 1.0, "scores": [], "attempts": 1, "tokens": 0,
    }  # fmt: skip


def test_record_chunk_saves_the_chunk_with_the_run_counter_and_the_last_one_completes(services, world) -> None:
    app = services.app
    run, items = _started(services, world)
    first = app.record_chunk(run, [_record(run, items, p, "failed" if p == 1 else "passed") for p in range(4)])
    stored = app.get(Run, run.id, "run")
    assert (stored.chunks, stored.next_position, stored.n_passed, stored.n_failed) == (1, 4, 3, 1)
    assert stored.status == "running"
    assert app.get(RunChunk, RunChunk.create_id(run.id, 0), "chunk").n_items == 4
    # The writing process caught its read model up after the command: nobody called catch_up.
    assert services.lag()[1] >= first.position
    assert queries.run(services.view, str(run.id))["done"] == 4

    last = app.record_chunk(run, [_record(run, items, p) for p in range(4, 10)])
    assert last.position > first.position and last.number == 4  # a sharded run's chunk number is its start
    assert app.get(Run, run.id, "run").status == "completed"  # in the same save as the last chunk
    assert queries.run(services.view, str(run.id))["status"] == "completed"


def test_record_chunk_refuses_a_gap_a_stale_run_and_a_cancelled_run_and_saves_nothing(services, world) -> None:
    app = services.app
    run, items = _started(services, world)
    head = app.recorder.max_notification_id()
    with pytest.raises(Conflict, match="does not follow what shard 0 recorded up to 0"):
        app.record_chunk(run, [_record(run, items, 1)])  # does not start at the watermark
    with pytest.raises(Invalid, match="at least one item"):
        app.record_chunk(run, [])  # an empty chunk
    with pytest.raises(Invalid, match="position 1"):
        app.record_chunk(run, [_record(run, items, 0), _record(run, items, 2)])  # not consecutive
    assert app.recorder.max_notification_id() == head

    stale = app.get(Run, run.id, "run")
    app.record_chunk(run, [_record(run, items, 0)])
    head = app.recorder.max_notification_id()
    with pytest.raises(Conflict):  # another writer's copy: both would record chunk 0
        app.record_chunk(stale, [_record(stale, items, 0)])
    app.cancel_run(run.id)
    with pytest.raises(Conflict):  # the worker's copy misses the cancel: its save fails whole
        app.record_chunk(run, [_record(run, items, 1)])
    assert app.get(Run, run.id, "run").next_position == 1
    since = app.recorder.select_notifications(start=head, limit=10, inclusive_of_start=False)
    assert [n.topic.rsplit(":", 1)[1] for n in since] == ["Run.Cancelled"]  # nothing else


def test_complete_run_needs_every_item_recorded(services, world) -> None:
    app = services.app
    run, items = _started(services, world)
    with pytest.raises(Conflict, match="not recorded yet"):
        app.complete_run(run.id)
    app.record_chunk(run, [_record(run, items, p) for p in range(9)])
    with pytest.raises(Conflict, match="1 items are not recorded yet"):
        app.complete_run(run.id)


def test_record_rescore_chunk_moves_the_run_counts_and_complete_frees_the_run(services, world) -> None:
    app = services.app
    run, items = _started(services, world)
    app.record_chunk(run, [_record(run, items, p) for p in range(10)])
    rescore_id = app.start_rescore(run.id, JSON_VALID, [], 10, replace_latest=True).id
    rescore = app.get(Rescore, rescore_id, "rescore")
    records = [
        {"rescore_id": str(rescore_id), "run_id": str(run.id), "run_item_id": r["run_item_id"], "position": n,
         "scores": [], "status": "failed" if n < 3 else "passed", "previous_status": "passed", "replaced": [],
         "applied": True}
        for n, r in enumerate(_record(run, items, p) for p in range(10))
    ]  # fmt: skip
    with pytest.raises(Invalid):  # a shadow record in a replacing rescore
        app.record_rescore_chunk(rescore, [{**records[0], "applied": False}])
    written = app.record_rescore_chunk(rescore, records[:5])
    stored_run = app.get(Run, run.id, "run")
    assert (stored_run.n_passed, stored_run.n_failed) == (7, 3)  # saved with the chunk, in one transaction
    assert app.get(RescoreChunk, RescoreChunk.create_id(rescore_id, 0), "chunk").n_items == 5
    assert services.lag()[1] >= written.position
    with pytest.raises(Conflict, match="not rescored yet"):
        app.complete_rescore(rescore_id)
    app.record_rescore_chunk(rescore, records[5:])
    app.complete_rescore(rescore_id)
    assert app.get(Rescore, rescore_id, "rescore").status == "completed"
    assert app.get(Run, run.id, "run").rescoring is None
    assert queries.rescore(services.view, str(rescore_id))["status"] == "completed"


@pytest.mark.parametrize("replace_latest", [False, True], ids=["shadow", "replacing"])
def test_the_application_refuses_to_rescore_a_run_that_is_not_completed(services, world, replace_latest) -> None:
    app = services.app
    run, items = _started(services, world)
    head = app.recorder.max_notification_id()
    for total in (0, 10):  # the run's state decides before anything about the items
        with pytest.raises(Conflict, match="only a completed run can be rescored"):
            app.start_rescore(run.id, JSON_VALID, [], total, replace_latest=replace_latest)
    assert app.recorder.max_notification_id() == head
    app.record_chunk(run, [_record(run, items, p) for p in range(3)])
    app.cancel_run(run.id)
    head = app.recorder.max_notification_id()
    with pytest.raises(Conflict, match="cancelled: only a completed run can be rescored"):
        app.start_rescore(run.id, JSON_VALID, [], 3, replace_latest=replace_latest)
    assert app.recorder.max_notification_id() == head


def test_the_application_refuses_an_annotation_on_an_item_not_in_the_run_whatever_the_view(services, world) -> None:
    app = services.app
    app.written_listeners.clear()  # nothing catches the read model up ...
    services.view.reset(app.name)  # ... and it is empty
    run, items = _started(services, world, repetitions=2)
    other, _ = _started(services, world)
    app.record_chunk(run, [_record(run, items, p) for p in range(5)])
    app.record_chunk(other, [_record(other, items, p) for p in range(10)])
    assert services.lag()[1] == 0

    recorded = _record(run, items, 3)["run_item_id"]  # item 1, repetition 1
    written = app.annotate(run.id, recorded, "helpful", label="pass")
    assert written.position > 0
    for run_item_id in (
        _record(run, items, 7)["run_item_id"],  # the run's, but not recorded yet
        _record(other, items, 0)["run_item_id"],  # another run's (recorded there)
        ids.run_item_id_str(run.id, "no-such-item", 0),
        "00000000-0000-4000-8000-000000000000",
    ):
        with pytest.raises(NotFound, match=f"run item {run_item_id} is not part of run {run.id}") as refused:
            app.annotate(run.id, run_item_id, "helpful", label="pass")
        assert refused.value.field == "run_item_id"
    app.record_chunk(run, [_record(run, items, p) for p in range(5, 8)])
    app.annotate(run.id, _record(run, items, 7)["run_item_id"], "helpful", label="fail")  # recorded now


def test_a_run_executed_by_the_worker_is_recorded_through_the_commands(services, world) -> None:
    app = services.app
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid")
    run_id = app.start_run(app.create_experiment("exp", "", spec).id).id
    assert execute(services, run_id, chunk_items=3) == "completed"
    run = app.get(Run, run_id, "run")
    assert (run.status, run.n_passed) == ("completed", 10) and run.chunks >= 4
    assert services.lag()[0] == services.lag()[1]
    assert queries.run(services.view, str(run_id))["status"] == "completed"
