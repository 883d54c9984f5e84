"""A run's latency percentiles are read from the (run, duration) index, from the nearer end: the same numbers as
``numpy.percentile`` (linear interpolation between closest ranks) for any number of items, ties and repeats
(both stores)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from agnt5_evals.domain.runs import Run, RunChunk
from agnt5_evals.projections import queries
from tests.support import definition, unsharded_run


def _closest_ranks(durations: list[float], q: int) -> float:
    """The rule as it was computed before (a sort of every duration): linear between closest ranks."""
    ordered, rank = sorted(durations), (len(durations) - 1) * q / 100
    low, high = ordered[int(rank)], ordered[min(int(rank) + 1, len(ordered) - 1)]
    return low + (high - low) * (rank - int(rank))


def _run_with(services, experiment_id, durations: list[float]) -> str:
    """A run (still running) whose first items took these durations."""
    app = services.app
    run_id = unsharded_run(app, experiment_id)
    run = app.get(Run, run_id, "run")
    chunk = RunChunk(run_id=run_id, chunk_no=0, start=0)
    for position, ms in enumerate(durations):
        chunk.record_item(run_id=str(run_id), run_item_id=f"{run_id}-{position}", dataset_item_id=f"d{position}",
                          position=position, repetition=0, status="passed", output=1, error=None, events=[],
                          started_at="t", duration_ms=ms, scores=[], attempts=1, tokens=2)  # fmt: skip
    run.record_chunk(0, 0, len(durations), {"passed": len(durations), "failed": 0, "errored": 0}, "")
    app.save(run, chunk)
    return str(run_id)


def test_percentiles_match_numpy_for_any_size(services, world):
    rng = random.Random(7)
    sizes = [1, 2, 3, 4, 5, 19, 20, 21, 101, 250]
    cases = [[round(rng.uniform(0.1, 900.0), 3) for _ in range(n)] for n in sizes]
    cases.append([5.0] * 9 + [1.0, 1000.0])  # ties around the ranks
    cases.append([float(rng.choice([1, 2, 3])) for _ in range(57)])  # many ties
    app = services.app
    spec = definition(world["dataset"], world["version"], world["good"], repetitions=30)  # room for 250 items
    experiment = app.create_experiment("e", "", spec).id
    runs = [(_run_with(services, experiment, durations), durations) for durations in cases]
    services.catch_up()

    for run_id, durations in runs:
        stats = queries.run_stats(services.view, run_id)
        expected = np.percentile(durations, [50, 95])
        assert stats["latency_ms"]["p50"] == pytest.approx(expected[0], abs=1e-9), durations
        assert stats["latency_ms"]["p95"] == pytest.approx(expected[1], abs=1e-9), durations
        assert stats["latency_ms"]["p50"] == _closest_ranks(durations, 50)  # the very same float as before
        assert stats["latency_ms"]["p95"] == _closest_ranks(durations, 95)
        assert stats["latency_ms"]["max"] == max(durations)
        assert stats["tokens"] == 2 * len(durations)


def test_repetition_outcomes_are_grouped_per_dataset_item(services, world):
    app = services.app
    experiment = app.create_experiment("e", "", definition(world["dataset"], world["version"], world["good"])).id
    run_id = app.start_run(experiment).id
    run = app.get(Run, run_id, "run")
    chunk = RunChunk(run_id=run_id, chunk_no=0, start=0)
    outcomes = [("a", "passed"), ("a", "failed"), ("b", "passed"), ("b", "passed"), ("c", "errored"), ("c", "failed")]
    for position, (item, status) in enumerate(outcomes):
        chunk.record_item(run_id=str(run_id), run_item_id=f"r{position}", dataset_item_id=item, position=position,
                          repetition=position % 2, status=status, output=1, error=None, events=[], started_at="t",
                          duration_ms=1.0, scores=[], attempts=1, tokens=0)  # fmt: skip
    run.record_chunk(0, 0, 6, {"passed": 3, "failed": 2, "errored": 1}, "")
    app.save(run, chunk)
    services.catch_up()

    groups = queries.run_stats(services.view, str(run_id), repetitions=True)["repetitions"]
    assert {item: sorted(g) for item, g in groups.items()} == {
        "a": [False, True], "b": [True, True], "c": [False, False]
    }  # fmt: skip
