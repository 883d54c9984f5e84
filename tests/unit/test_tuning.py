"""The limit on a run's item threads (``worker.tuning.Tuner``): halved while the threads are saturated; a halving
that left them waiting or cost items per second undone for good; back to ``concurrency`` when they wait on their
targets; nothing judged on a period with too few items or on the one right after a change."""

from __future__ import annotations

from agnt5_evals.worker.tuning import BUSY, IDLE, LOSS, MIN_ITEMS, MULTICORE, Tuner

SATURATED = (BUSY + MULTICORE) / 2  # one interpreter's worth of CPU
BETWEEN = (IDLE + BUSY) / 2
WAITING = IDLE / 2
MANY = 1_000  # items recorded in a period: enough to judge
RATE = 5_000.0  # items recorded per second


def steps(tuner: Tuner, cores: float, n: int, items: int = MANY, rate: float = RATE) -> list[int]:
    return [tuner.step(cores, rate, items) for _ in range(n)]


def test_it_starts_at_the_concurrency_and_saturated_threads_halve_it_down_to_one():
    tuner = Tuner(8)
    assert tuner.limit == 8
    # each halving, then a period of settling (not judged), then the judged period that halves again
    assert steps(tuner, SATURATED, 8) == [4, 4, 2, 2, 1, 1, 1, 1]
    assert tuner.floor == 1


def test_a_halving_that_left_the_threads_waiting_is_undone_and_not_tried_again():
    tuner = Tuner(32)
    assert steps(tuner, SATURATED, 3) == [16, 16, 8]  # halved, settled, still saturated at 16: halved again
    assert tuner.step(SATURATED, RATE, MANY) == 8  # settling: the threads past the limit finish their items
    assert tuner.step(BETWEEN, RATE, MANY) == 16  # no longer saturated at 8: undone
    assert tuner.floor == 16
    assert steps(tuner, SATURATED, 4) == [16, 16, 16, 16]  # never below the floor again
    assert steps(tuner, WAITING, 3) == [32, 32, 32]  # waiting: back up to the concurrency


def test_threads_that_wait_on_their_targets_get_back_up_to_the_concurrency():
    tuner = Tuner(32, limit=2)
    assert steps(tuner, WAITING, 8) == [4, 4, 8, 8, 16, 16, 32, 32]


def test_a_period_with_too_few_items_changes_nothing_and_judges_nothing():
    tuner = Tuner(16)
    assert steps(tuner, SATURATED, 3, items=0) == [16, 16, 16]  # nothing recorded: no halving on nothing
    assert not tuner.enough(0) and not tuner.enough(MIN_ITEMS - 1)
    assert tuner.step(SATURATED, RATE, 2 * 16 - 1) == 16  # fewer than two per thread (and more than MIN_ITEMS)
    assert tuner.enough(2 * 16) and tuner.step(SATURATED, RATE, 2 * 16) == 8
    assert steps(tuner, BETWEEN, 3, items=2) == [8, 8, 8]  # the halving waits for periods it can be judged by
    assert tuner.halved == (16, RATE) and tuner.settling
    assert steps(tuner, BETWEEN, 2) == [8, 16]  # settled, then judged: the threads wait at 8, so back to 16


def test_between_idle_and_busy_or_on_many_cores_the_limit_stays():
    tuner = Tuner(8)
    assert tuner.step(BETWEEN, RATE, MANY) == 8
    assert tuner.step(MULTICORE + 0.5, RATE, MANY) == 8  # the target runs outside the interpreter's lock: in parallel
    assert Tuner(8, limit=2).step(BETWEEN, RATE, MANY) == 2


def test_the_limit_is_between_one_and_the_concurrency():
    assert steps(Tuner(1), SATURATED, 3) == [1, 1, 1]
    assert Tuner(0).limit == 1
    assert Tuner(8, limit=16).limit == 8


def test_a_halving_that_cost_items_per_second_is_undone_though_the_threads_stay_busy():
    tuner = Tuner(32)
    assert steps(tuner, SATURATED, 2) == [16, 16]  # halved at RATE, settled
    assert tuner.step(SATURATED, RATE * (1 - LOSS) + 1, MANY) == 8  # no fewer items per second: halved again
    assert tuner.step(SATURATED, RATE, MANY) == 8  # settling
    assert tuner.step(SATURATED, RATE * (1 - LOSS) * (1 - LOSS), MANY) == 16  # fell by more than LOSS: undone
    assert tuner.floor == 16
