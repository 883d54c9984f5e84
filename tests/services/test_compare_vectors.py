"""Finished runs of one dataset version are compared from their vectors (``projections.vectors``,
``services.pairs``): the JSON is byte for byte what pairing every item in Python gives, on both stores, for every
scorer filter and limit, for complete and partial runs; a vector is used only while its run's stamp holds (a rescore
running is read from the items until the projection rebuilds the vector at its end); and runs whose positions hold
different items are paired by their ids instead."""

from __future__ import annotations

import json
import random
from typing import Any
from uuid import UUID

import pytest

from agnt5_evals.domain.flaky import flaky_items
from agnt5_evals.domain.runs import Run, RunChunk
from agnt5_evals.projections import queries, vectors
from agnt5_evals.projections.catchup import catch_up
from agnt5_evals.services.compare import compare_runs, flaky_page
from agnt5_evals.services.pairs import vector_flaky, vector_pairing
from agnt5_evals.worker.rescore import RescoreExecutor
from tests.application.test_rescore_aggregates import frac_experiment
from tests.services.test_compare_sql import before, make_items, record_run
from tests.support import definition, execute, unsharded_run


def finish(services, run_id: str) -> None:
    run = services.app.get(Run, UUID(run_id), "run")
    run.cancel("recorded by the test")
    services.app.save(run)
    services.catch_up()


def from_vectors(services, base: str, other: str) -> bool:
    rows = queries.run(services.view, base), queries.run(services.view, other)
    return vector_pairing(services.view, rows[0], rows[1], "", None) is not None


def experiment(services, world) -> Any:
    app = services.app
    dataset = app.create_dataset("hundred")
    app.add_items(dataset.id, [{"input": {"order_id": i}, "expected_output": i} for i in range(100)])
    spec = definition(dataset.id, app.publish(dataset.id).id, world["good"], repetitions=100)  # room for 10,000
    return app.create_experiment("e", "", spec).id


def same_json(services, base: str, other: str) -> None:
    for scorer in ("", "exact", "close"):
        for limit in (None, 0, 1, 7):
            got = compare_runs(services, base, other, scorer=scorer, limit=limit)
            assert json.dumps(got) == json.dumps(before(services, base, other, scorer, limit)), (scorer, limit)


@pytest.mark.parametrize(("n", "kind", "drop"), [(60, "few", 0.0), (300, "many", 0.0), (300, "many", 0.1),
                                                 (5200, "many", 0.0)])  # fmt: skip
def test_finished_runs_compare_from_vectors_as_pairing_every_item(services, world, n, kind, drop):
    rng = random.Random(n)
    exp = experiment(services, world)
    runs = []
    for seed in (n, n + 1):
        items: list[Any] = make_items(random.Random(seed), n, kind, 0.0)  # the same keys in the same places
        runs.append(record_run(services, exp, [i if rng.random() >= drop else None for i in items]))
    base, other = runs
    services.catch_up()
    assert not from_vectors(services, base, other)  # running: no vector yet
    finish(services, base)
    finish(services, other)
    assert from_vectors(services, base, other)
    same_json(services, base, other)
    full = compare_runs(services, base, other)
    assert full["newly_failing_count"] > 0 and full["newly_passing_count"] > 0
    if drop:
        assert full["only_in_base"] and full["only_in_compare"]


def test_runs_whose_positions_hold_different_items_are_paired_by_their_ids(services, world):
    exp = experiment(services, world)
    base = record_run(services, exp, make_items(random.Random(1), 200, "many", 0.05))  # shuffled
    other = record_run(services, exp, make_items(random.Random(2), 200, "many", 0.05))
    finish(services, base)
    finish(services, other)
    assert not from_vectors(services, base, other)
    same_json(services, base, other)


def test_a_rescore_is_read_from_the_items_until_it_ends_then_from_the_rebuilt_vector(services, world, agent_dir):
    exp, zero = frac_experiment(services, world, agent_dir)
    app = services.app
    run_ids = [app.start_run(exp).id for _ in range(2)]
    for run_id in run_ids:
        assert execute(services, run_id, chunk_items=3) == "completed"
    base, other = (str(run_id) for run_id in run_ids)
    services.catch_up()
    assert from_vectors(services, base, other)
    first = compare_runs(services, base, other)
    assert first["scorers"][0]["delta"] == 0.0
    assert json.dumps(first) == json.dumps(before(services, base, other))

    written = app.start_rescore(run_ids[1], [{**zero, "key": "frac"}], [], 10, replace_latest=True)
    services.catch_up()
    assert not from_vectors(services, base, other)  # a rescore running: its stamp no longer holds
    assert RescoreExecutor(services, written.id).execute() == "completed"
    services.catch_up()
    assert from_vectors(services, base, other)
    after = compare_runs(services, base, other)
    assert json.dumps(after) == json.dumps(before(services, base, other))
    (frac_row,) = after["scorers"]
    assert frac_row["compare_mean"] == 0.0 and frac_row["base_mean"] > 0

    services.rebuild()  # the projection builds the same vectors from the log
    assert from_vectors(services, base, other)
    assert json.dumps(compare_runs(services, base, other)) == json.dumps(after)


def complete(services, run_id: str) -> None:
    run = services.app.get(Run, UUID(run_id), "run")
    run.complete()
    services.app.save(run)
    services.catch_up()


def test_flaky_items_from_vectors_are_those_of_every_item(services, world):
    """Completed runs of one version (3 repetitions of 100 items) read from their vectors give the flaky items,
    counts, order and histories that reading every item gives; a limit keeps the first ones."""
    app = services.app
    dataset = app.create_dataset("hundred")
    app.add_items(dataset.id, [{"input": {"order_id": i}, "expected_output": i} for i in range(100)])
    spec = definition(dataset.id, app.publish(dataset.id).id, world["good"], repetitions=3)
    exp = app.create_experiment("e", "", spec).id
    rng = random.Random(7)
    steady = {f"d{i:03}": rng.choice(["passed", "failed", "errored"]) for i in range(100)}
    runs = []
    for _ in range(4):
        items: list[Any] = []
        for i in range(100):
            did = f"d{(i * 37) % 100:03}"  # positions in version order, ids in another order
            for rep in range(3):
                status = steady[did] if rng.random() < 0.9 else rng.choice(["passed", "failed", "errored"])
                items.append((did, rep, status, []))
        run_id = record_run(services, exp, items)
        complete(services, run_id)
        runs.append(run_id)
    rows = [queries.run(services.view, run_id) for run_id in runs]
    every = flaky_items([(row, queries.run_item_outcomes(services.view, row["id"])) for row in rows])
    assert len(every) > 10
    got, total = vector_flaky(services.view, rows, None) or ([], -1)
    assert total == len(every) and json.dumps(got) == json.dumps(every)
    first, total = vector_flaky(services.view, rows, 5) or ([], -1)
    assert total == len(every) and json.dumps(first) == json.dumps(every[:5])
    result, total = flaky_page(services, str(exp), 4, 5)
    assert total == len(every) and [i["dataset_item_id"] for i in result["items"]] == [
        i["dataset_item_id"] for i in every[:5]
    ]
    assert result["items"][0]["input"] is None  # the test's ids are not the version's items: no example found


def test_items_that_reach_the_projection_after_their_runs_end_rebuild_its_vector(services, world):
    """A run's end and its last items are saved together, and a batch of the projection can end between them:
    the batches after it rebuild the vector, which always holds what the run's rows hold."""
    exp = experiment(services, world)
    run_ids = []
    for seed in (1, 2):
        items = make_items(random.Random(seed), 40, "many", 0.0)
        run_id = unsharded_run(services.app, exp)
        run, chunk = services.app.get(Run, run_id, "run"), RunChunk(run_id=run_id, chunk_no=0, start=0)
        counts = {"passed": 0, "failed": 0, "errored": 0}
        for position, (did, rep, status, scores) in enumerate(items):
            counts[status] += 1
            chunk.record_item(run_id=str(run_id), run_item_id=f"{run_id}-{position}", dataset_item_id=did,
                              position=position, repetition=rep, status=status, output={"n": position},
                              error=None, events=[], started_at="t", duration_ms=1.0, scores=scores, attempts=1,
                              tokens=0)  # fmt: skip
        run.record_chunk(0, 0, len(items), counts, "")
        run.cancel("ended with its last chunk")
        services.app.save(run, chunk)  # the run's events first, then the chunk's items
        run_ids.append(str(run_id))
    catch_up(services.app, services.view, batch=3)
    base, other = run_ids
    assert from_vectors(services, base, other)
    assert vectors.load(services.view, base).present.sum() == len(make_items(random.Random(1), 40, "many", 0.0))
    same_json(services, base, other)
