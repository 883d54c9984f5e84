"""A run's item threads take items only within the tuner's limit (``worker.tuning``): threads past it end, and new
ones start when it rises; the tuner is told the CPU of the dispatch's own threads (not the process's) and the items
of each period after the first. On both stores."""

from __future__ import annotations

import threading
import time
from typing import Any

from agnt5_evals.domain.runs import Run
from agnt5_evals.worker import dispatch as dispatch_module
from agnt5_evals.worker.dispatch import Dispatch
from agnt5_evals.worker.items import VersionItems
from agnt5_evals.worker.scoring import ScorerRuntime
from agnt5_evals.worker.tuning import IDLE, Tuner
from tests.support import definition
from tests.worker.test_items import big_version

DEADLINE = 60.0  # generous: the machine may be loaded; nothing here is timed


class Calls:
    """The target: counts the calls running at once, and can hold call number ``hold_at`` until ``hold_until``
    calls run at once."""

    def __init__(self, hold_until: int = 0, pause: float = 0.0, hold_at: int = 1) -> None:
        self.cond = threading.Condition()
        self.running = self.most = self.calls = 0
        self.hold_until, self.hold_at, self.pause = hold_until, hold_at, pause
        self.held_released = False

    def __call__(self, ctx: Any, data: Any) -> Any:
        with self.cond:
            self.calls += 1
            held = self.calls == self.hold_at
            self.running += 1
            self.most = max(self.most, self.running)
            self.cond.notify_all()
            if held and self.hold_until:
                self.held_released = self.cond.wait_for(lambda: self.running >= self.hold_until, DEADLINE)
        time.sleep(self.pause)
        with self.cond:
            self.running -= 1
        return data


def _dispatch(services: Any, world: Any, n: int, target: Calls, **config: Any) -> tuple[Dispatch, ScorerRuntime]:
    version = big_version(services, n)
    spec = definition(version.dataset_id, version.id, world["good"], "exact_match", **config)
    exp = services.app.create_experiment("tuning", "", spec)
    run = services.app.get(Run, services.app.start_run(exp.id).id, "run")
    scoring = ScorerRuntime(lambda _: None, lambda _: None)
    return Dispatch(services.app, scoring, run, target, VersionItems.of(services.app, version), chunk_items=50), scoring


def _drive(dispatch: Dispatch, scoring: ScorerRuntime) -> Run:
    try:
        return dispatch.drive()
    finally:
        scoring.close()


def test_only_the_limits_threads_take_items(services, world):
    target = Calls(pause=0.002)
    dispatch, scoring = _dispatch(services, world, 120, target, concurrency=8)
    dispatch.limit = 1
    dispatch.tuner.step = lambda cores, rate, items: 1  # type: ignore[method-assign]
    run = _drive(dispatch, scoring)
    assert run.status == "completed" and run.n_items == 120
    assert target.calls == 120 and target.most == 1


def test_a_rising_limit_starts_threads_that_take_items(services, world, monkeypatch):
    monkeypatch.setattr(dispatch_module, "PERIOD", 0.01)
    # call 160 returns only once two more run beside it; the 159 before, one at a time, make three saves of 50
    # (periods are judged from the first save on, and hold two saves at least)
    target = Calls(hold_until=3, hold_at=160)
    dispatch, scoring = _dispatch(services, world, 200, target, concurrency=4)
    dispatch.limit = 1  # one thread starts
    rose: list[int] = []

    def step(cores: float, rate: float, items: int) -> int:
        rose.append(target.calls)
        return 4

    dispatch.tuner.step = step  # type: ignore[method-assign]
    run = _drive(dispatch, scoring)
    assert target.held_released, "no other thread took an item after the limit rose"
    assert run.status == "completed" and run.n_items == 200 and target.most >= 3
    assert rose and rose[0] < 160 + 2  # the limit rose before the held call was released


class AfterFall(Calls):
    """Counts, per thread, the calls it started after the limit fell (``fell``)."""

    def __init__(self) -> None:
        super().__init__(pause=0.002)
        self.fell = False
        self.after: dict[int, int] = {}

    def __call__(self, ctx: Any, data: Any) -> Any:
        with self.cond:
            if self.fell:
                me = threading.get_ident()
                self.after[me] = self.after.get(me, 0) + 1
        return super().__call__(ctx, data)


def test_a_falling_limit_ends_the_threads_past_it(services, world, monkeypatch):
    monkeypatch.setattr(dispatch_module, "PERIOD", 0.01)
    target = AfterFall()
    dispatch, scoring = _dispatch(services, world, 400, target, concurrency=8)

    def step(cores: float, rate: float, items: int) -> int:
        with target.cond:
            target.fell = True
        return 2

    dispatch.tuner.step = step  # type: ignore[method-assign]
    run = _drive(dispatch, scoring)
    assert run.status == "completed" and run.n_items == 400
    assert target.fell, "the run lasted several periods, and the tuner was never asked"
    # a thread's first call after the fall may have been taken before it; a second one was taken after, within the
    # limit: only the two threads that go on make more than one
    going_on = [n for n in target.after.values() if n > 1]
    assert len(going_on) <= 2 and sum(going_on) > 20, target.after


def test_the_tuner_hears_this_dispatchs_cpu_not_a_busy_neighbours(services, world, monkeypatch):
    """A target that waits keeps every thread even while another thread of the process computes (a pool worker runs
    several shards in one process): the dispatch reports its own threads' CPU."""
    monkeypatch.setattr(dispatch_module, "PERIOD", 0.05)
    target = Calls(pause=0.005)
    dispatch, scoring = _dispatch(services, world, 400, target, concurrency=4)
    told: list[tuple[float, int, int]] = []
    step = dispatch.tuner.step

    def telling(cores: float, rate: float, items: int) -> int:
        told.append((cores, dispatch.tuned[3], step(cores, rate, items)))
        return told[-1][2]

    dispatch.tuner.step = telling  # type: ignore[method-assign]
    stop = threading.Event()

    def neighbour() -> None:  # a whole core of pure Python, in this process
        while not stop.is_set():
            sum(range(10_000))

    busy = threading.Thread(target=neighbour, daemon=True)
    busy.start()
    try:
        run = _drive(dispatch, scoring)
    finally:
        stop.set()
        busy.join()
    assert run.status == "completed" and run.n_items == 400
    assert told, "the run lasted several periods, and the tuner was never asked"
    assert all(cores < IDLE for cores, _, _ in told), told
    assert all(limit == 4 for _, _, limit in told), told
    assert min(period for _, period, _ in told) >= 2, told  # the first period (the warm-up) is not judged


def test_a_limit_lowered_before_the_target_slowed_down_comes_back_up(services, world):
    """Periods of a slow target hold few items: a period lasts until it has enough to be judged, so threads that now
    wait on their target get their threads back (else the limit stayed where a fast phase left it)."""
    target = Calls(pause=0.05)
    dispatch, scoring = _dispatch(services, world, 120, target, concurrency=4)
    dispatch.tuner = Tuner(4, limit=1)  # as a CPU-bound phase of the run left it
    dispatch.limit = 1
    run = _drive(dispatch, scoring)
    assert run.status == "completed" and run.n_items == 120
    assert target.most > 1 and dispatch.tuner.limit > 1, (target.most, dispatch.tuner.limit)


def test_items_that_time_out_keep_the_run_going_within_the_limit(services, world):
    """A timed-out item's thread no longer counts and a replacement takes the next item, at concurrency 1 too."""
    release = threading.Event()

    def target(ctx: Any, data: Any) -> Any:
        if data["n"] in (0, 1):
            release.wait(DEADLINE)  # outlives the run's timeout
        return data

    version = big_version(services, 6)
    spec = definition(version.dataset_id, version.id, world["good"], "exact_match", concurrency=1, timeout_s=0.5)
    exp = services.app.create_experiment("tuning-timeouts", "", spec)
    run = services.app.get(Run, services.app.start_run(exp.id).id, "run")
    scoring = ScorerRuntime(lambda _: None, lambda _: None)
    dispatch = Dispatch(services.app, scoring, run, target, VersionItems.of(services.app, version), chunk_items=50)
    try:
        run = _drive(dispatch, scoring)
    finally:
        release.set()
    assert run.status == "completed" and run.n_items == 6
    assert dispatch.threads <= 1
