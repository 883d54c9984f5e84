"""A fast target's item threads hold the dispatch's lock once per item (issue 16): handing the finished item over
and taking the next are one hold (``Dispatch._next``), so eight threads of an echo target spend their time working,
not handing the lock (and the GIL) to each other; and that one hold still drops the late result of an item that
timed out meanwhile. On both stores."""

from __future__ import annotations

import threading
import time
from typing import Any

from agnt5_evals.domain.runs import Run
from agnt5_evals.worker.dispatch import Dispatch
from agnt5_evals.worker.items import VersionItems
from agnt5_evals.worker.scoring import ScorerRuntime
from tests.support import definition
from tests.worker.test_items import big_version

N_ITEMS = 600
THREADS = 8


class CountingCondition(threading.Condition):
    """A condition that counts how often the item threads enter it (``with``); the recording thread's entries
    depend on how long the run takes (it wakes on timers), theirs only on the items."""

    def __init__(self) -> None:
        super().__init__()
        self.holds = 0

    def __enter__(self) -> Any:
        entered = super().__enter__()
        if threading.current_thread().name == "item-worker":
            self.holds += 1  # counted while held: no lost updates
        return entered


def _dispatch(services: Any, world: Any, n: int, **config: Any) -> tuple[Dispatch, ScorerRuntime]:
    version = big_version(services, n)
    spec = definition(version.dataset_id, version.id, world["good"], "exact_match", **config)
    exp = services.app.create_experiment("lock", "", spec)
    run = services.app.get(Run, services.app.start_run(exp.id).id, "run")
    scoring = ScorerRuntime(lambda _: None, lambda _: None)
    items = VersionItems.of(services.app, version)
    return Dispatch(services.app, scoring, run, lambda ctx, data: data, items, chunk_items=50), scoring


def test_a_fast_targets_threads_hold_the_dispatch_lock_once_per_item(services, world):
    dispatch, scoring = _dispatch(services, world, N_ITEMS, concurrency=THREADS)
    dispatch.lock = counting = CountingCondition()
    try:
        assert dispatch.drive().status == "completed"
    finally:
        scoring.close()
    # each thread's first take, then one hold per item (handing it over and taking the next); 3 per item before
    assert counting.holds == N_ITEMS + THREADS, counting.holds


def test_the_late_result_of_an_item_that_timed_out_is_dropped_and_its_thread_stops(services, world, monkeypatch):
    dispatch, scoring = _dispatch(services, world, 3, concurrency=1, timeout_s=5)
    spawned: list[int] = []
    monkeypatch.setattr(dispatch, "_spawn", lambda: spawned.append(1))  # no replacement thread: drive it by hand
    try:
        dispatch._feed()
        first = dispatch._next()
        assert first is not None and first.position == 0 and dispatch.active == {0: first}
        first.deadline = time.monotonic() - 1  # its call outlived the run's timeout
        dispatch._expire(time.monotonic())
        assert dispatch.abandoned == {0} and not dispatch.active and spawned == [1]
        assert dispatch.done[0]["status"] == "errored" and dispatch.done[0]["error"].startswith("TimeoutError")
        late = dispatch._result(first, {"n": 0}, None)  # the call answers after all
        assert dispatch._next(first, late) is None  # dropped, and the thread stops (its replacement goes on)
        assert dispatch.finished.qsize() == 0 and dispatch.done[0]["status"] == "errored"
        second = dispatch._next()
        assert second is not None and second.position == 1 and set(dispatch.active) == {1}
        third = dispatch._next(second, dispatch._result(second, {"n": 1}, None))  # handed over, the next taken
        assert third is not None and third.position == 2 and set(dispatch.active) == {2}
        assert dispatch.finished.get_nowait()["position"] == 1
    finally:
        scoring.close()
