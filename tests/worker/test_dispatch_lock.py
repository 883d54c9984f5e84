"""A fast target's item threads hold the dispatch's lock once per item (issue 16): handing the finished item over
and taking the next are one hold, so eight threads of an echo target spend their time working, not handing the
lock (and the GIL) to each other. Three holds per item before; this counts them, on both stores."""

from __future__ import annotations

import threading
from typing import Any

from agnt5_evals.domain.runs import Run
from agnt5_evals.worker.dispatch import Dispatch
from agnt5_evals.worker.items import VersionItems
from agnt5_evals.worker.scoring import ScorerRuntime
from tests.support import definition
from tests.worker.test_items import big_version

N_ITEMS = 600


class CountingCondition(threading.Condition):
    """A condition that counts how often it is entered (``with``), from any thread."""

    def __init__(self) -> None:
        super().__init__()
        self.holds = 0

    def __enter__(self) -> Any:
        entered = super().__enter__()
        self.holds += 1  # counted while held: no lost updates
        return entered


def test_a_fast_targets_threads_hold_the_dispatch_lock_once_per_item(services, world):
    version = big_version(services, N_ITEMS)
    spec = definition(version.dataset_id, version.id, world["good"], "exact_match", concurrency=8)
    exp = services.app.create_experiment("lock", "", spec)
    run = services.app.get(Run, services.app.start_run(exp.id).id, "run")
    scoring = ScorerRuntime(lambda _: None, lambda _: None)
    dispatch = Dispatch(services.app, scoring, run, lambda ctx, data: data, VersionItems.of(services.app, version),
                        chunk_items=50)  # fmt: skip
    dispatch.lock = counting = CountingCondition()
    try:
        assert dispatch.drive().status == "completed"
    finally:
        scoring.close()
    # one hold per item by the item threads, plus the recording thread's few per save and per wake-up (about 12
    # saves here); three per item before
    assert N_ITEMS <= counting.holds < 1.5 * N_ITEMS, counting.holds
