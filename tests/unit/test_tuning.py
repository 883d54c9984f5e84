"""The limit on a run's item threads (``worker.tuning.Tuner``): fewer threads when the worker is saturated and
fewer finish items as fast, back to ``concurrency`` when it waits on its targets, and never a halving that cost
items per second twice."""

from __future__ import annotations

from agnt5_evals.worker.tuning import BUSY, IDLE, LOSS, MULTICORE, Tuner

SATURATED = (BUSY + MULTICORE) / 2  # one interpreter's worth of CPU
WAITING = IDLE / 2


def test_it_starts_at_the_runs_concurrency_and_a_saturated_worker_halves_it_while_the_rate_holds():
    tuner = Tuner(8)
    assert tuner.limit == 8
    assert [tuner.step(SATURATED, 7_000) for _ in range(5)] == [4, 2, 1, 1, 1]


def test_a_halving_that_cost_items_per_second_is_undone_and_not_tried_again():
    tuner = Tuner(32)
    assert tuner.step(SATURATED, 6_000) == 16
    assert tuner.step(SATURATED, 6_000 * (1 - LOSS) + 1) == 8  # within the loss allowed: halved again
    assert tuner.step(0.6, 3_300) == 16  # half the rate: undone, whatever the CPU says now
    assert tuner.floor == 16
    assert [tuner.step(SATURATED, 5_000) for _ in range(3)] == [16, 16, 16]  # never below the floor again


def test_a_worker_that_waits_on_its_targets_gets_its_threads_back_up_to_the_concurrency():
    tuner = Tuner(32, limit=2)
    assert [tuner.step(WAITING, 1_500) for _ in range(6)] == [4, 8, 16, 32, 32, 32]


def test_between_idle_and_busy_or_on_many_cores_the_limit_stays():
    tuner = Tuner(8)
    assert tuner.step((IDLE + BUSY) / 2, 5_000) == 8
    assert tuner.step(MULTICORE + 0.5, 5_000) == 8  # the target runs outside the interpreter's lock: in parallel
    tuner = Tuner(8, limit=2)
    assert tuner.step((IDLE + BUSY) / 2, 5_000) == 2


def test_a_limit_of_one_thread_stays_one():
    tuner = Tuner(1)
    assert [tuner.step(SATURATED, 9_000) for _ in range(3)] == [1, 1, 1]
    assert Tuner(0).limit == 1
