"""A run's item threads take new items only within the tuner's limit (``worker.tuning``), and threads waiting for
it take items again when it rises; the tuner is told the CPU and the items per second of each period after the
first. On both stores."""

from __future__ import annotations

import threading
import time
from typing import Any

from agnt5_evals.domain.runs import Run
from agnt5_evals.worker import dispatch as dispatch_module
from agnt5_evals.worker.dispatch import Dispatch
from agnt5_evals.worker.items import VersionItems
from agnt5_evals.worker.scoring import ScorerRuntime
from tests.support import definition
from tests.worker.test_items import big_version

DEADLINE = 60.0  # generous: the machine may be loaded; nothing here is timed


class Calls:
    """The target: counts the calls running at once, and can hold the first call until others run beside it."""

    def __init__(self, hold_until: int = 0, pause: float = 0.0) -> None:
        self.cond = threading.Condition()
        self.running = self.most = self.calls = 0
        self.hold_until, self.pause = hold_until, pause
        self.held_released = False

    def __call__(self, ctx: Any, data: Any) -> Any:
        with self.cond:
            self.calls += 1
            first = self.calls == 1
            self.running += 1
            self.most = max(self.most, self.running)
            self.cond.notify_all()
            if first and self.hold_until:
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


def test_threads_past_the_limit_take_no_new_item(services, world):
    target = Calls(pause=0.002)
    dispatch, scoring = _dispatch(services, world, 120, target, concurrency=8)
    dispatch.limit = 1
    dispatch.tuner.step = lambda cores, rate: 1  # type: ignore[method-assign]
    run = _drive(dispatch, scoring)
    assert run.status == "completed" and run.n_items == 120
    assert target.calls == 120 and target.most == 1


def test_threads_waiting_for_the_limit_take_items_when_it_rises(services, world, monkeypatch):
    monkeypatch.setattr(dispatch_module, "PERIOD", 0.01)
    target = Calls(hold_until=3)  # the first call returns only once two more run beside it
    dispatch, scoring = _dispatch(services, world, 60, target, concurrency=4)
    dispatch.limit = 1
    dispatch.tuner.step = lambda cores, rate: 4  # type: ignore[method-assign]
    run = _drive(dispatch, scoring)
    assert target.held_released, "no other thread took an item after the limit rose"
    assert run.status == "completed" and run.n_items == 60 and target.most >= 3


def test_the_tuner_is_told_each_periods_cpu_and_items_per_second_after_the_warm_up(services, world, monkeypatch):
    monkeypatch.setattr(dispatch_module, "PERIOD", 0.05)
    target = Calls(pause=0.005)
    dispatch, scoring = _dispatch(services, world, 300, target, concurrency=2)
    told: list[tuple[float, float]] = []
    dispatch.tuner.step = lambda cores, rate: told.append((cores, rate)) or 2  # type: ignore[method-assign]
    run = _drive(dispatch, scoring)
    assert run.status == "completed" and run.n_items == 300
    assert told, "the run lasted several periods, and the tuner was never asked"
    assert all(cores >= 0 and rate >= 0 for cores, rate in told)
    assert any(rate > 0 for _, rate in told)
    periods = dispatch.tuned[3]
    assert len(told) < periods  # the first period (the warm-up) is not judged
