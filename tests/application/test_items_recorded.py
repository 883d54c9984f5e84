"""A run chunk records its items in one ``ItemsRecorded`` event. A run recorded before that event existed (one
``ItemRecorded`` event per item, ``tests.support.recording_as_before``) reads, verifies, replays, rescores and
rebuilds exactly as a run recorded now (both stores)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.runs import Run, RunChunk
from agnt5_evals.projections import queries
from agnt5_evals.services import invariants
from agnt5_evals.services.replay import replay_run
from agnt5_evals.services.verify import verify
from agnt5_evals.worker.rescore import RescoreExecutor
from tests.application.test_rescore_aggregates import aggregates, frac_experiment
from tests.support import execute, recording_as_before

SAME = ("position", "dataset_item_id", "repetition", "status", "output", "error", "attempts", "tokens")


def chunk_events(services: Services, run_id: UUID) -> list[str]:
    run = services.app.get(Run, run_id, "run")
    return [
        type(e).__qualname__
        for chunk_no in run.chunk_numbers()
        for e in services.app.events.get(RunChunk.create_id(run_id, chunk_no))
    ]


def items(services: Services, run_id: UUID) -> list[dict[str, Any]]:
    services.catch_up()
    return [
        {**{key: row[key] for key in SAME}, "kinds": [e.get("event_type") for e in row["events"]]}
        for row in queries.run_items(services.view, str(run_id))
    ]


def test_a_run_recorded_as_before_answers_as_one_recorded_now(services: Services, world: dict, agent_dir) -> None:
    experiment_id, zero = frac_experiment(services, world, agent_dir)
    app = services.app
    now, before = app.start_run(experiment_id).id, app.start_run(experiment_id).id
    assert execute(services, now, chunk_items=3) == "completed"
    with recording_as_before():
        assert execute(services, before, chunk_items=3) == "completed"

    # the log: one event per chunk now (10 items in 4 chunks of at most 3), one per item before
    assert chunk_events(services, now) == ["RunChunk.Opened", "RunChunk.ItemsRecorded"] * 4
    assert chunk_events(services, before).count("RunChunk.ItemRecorded") == 10
    assert "RunChunk.ItemsRecorded" not in chunk_events(services, before)

    # reads, counts and aggregates
    assert items(services, now) == items(services, before) and len(items(services, now)) == 10
    assert aggregates(services, now) == aggregates(services, before)
    # the hash chain, replay and the invariants
    for run_id in (now, before):
        report = verify(services, run_id)
        assert report["ok"] is True and report["checked"]["items"] == 10, report
        assert replay_run(services, run_id)["ok"] is True
    assert invariants.check(services).ok

    # a replacing rescore reads the recorded outputs of either form, and replays
    for run_id in (now, before):
        written = app.start_rescore(run_id, [{**zero, "key": "frac"}], [], 10, replace_latest=True)
        assert RescoreExecutor(services, written.id).execute() == "completed"
        assert aggregates(services, run_id) == [("frac", 10, 0, 0, 10, 0)]
        assert replay_run(services, run_id)["ok"] is True

    # a rebuild gives the same rows
    rows = items(services, now), items(services, before)
    services.rebuild()
    assert (items(services, now), items(services, before)) == rows
    assert invariants.check(services).ok
