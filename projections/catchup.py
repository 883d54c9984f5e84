"""The batched poll loop that feeds the read model from the event log (both stores).

Any process may catch up at any time: the tracking row makes each batch apply exactly once, and a
process that loses the race to another simply re-reads the position and goes on.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Notification, OperationalError, Recording, Tracking

from agnt5_evals.projections import stored
from agnt5_evals.projections.handlers import Op, operations
from agnt5_evals.projections.views import EvalsView, Switched

BATCH = 1000
REBUILD_BATCH = 10_000  # a rebuild's first pass: fewer, larger transactions (a commit syncs the disk)
BATCH_BYTES = 4 * 1024 * 1024  # stored state read at once by a batched reader of the log (see ``Pace``)
REBUILD_BYTES = 16 * 1024 * 1024
FIRST_BATCH = 64


class Pace:
    """How many notifications a batched reader of the log reads at once: at most ``limit``, and about ``budget``
    bytes of stored state. Events differ in size a thousandfold (a dataset edit: a few hundred bytes; a run chunk's
    ``ItemsRecorded``: up to 500 items, about 1 MiB), so a count alone does not bound a batch's memory. A batch holds
    at most ``budget`` divided by the biggest event of the batch before (``FIRST_BATCH`` at first), and at most
    twice as many as the batch before: the events of a run (its chunks' big ones between small ones) are read a few
    MiB at a time, a log of small events a thousand at a time. What is not bounded is a switch from small events to
    only big ones, which the reader learns from one batch late (a batch of at most twice the one before)."""

    def __init__(self, limit: int, budget: int = 0) -> None:
        self.limit, self.budget = limit, budget or BATCH_BYTES
        self.size = min(limit, FIRST_BATCH)

    def read(self, app: Application[Any], start: int, **options: Any) -> Sequence[Notification]:
        """The next batch of notifications after ``start`` (``options``: ``stop``, ``topics``)."""
        batch = app.recorder.select_notifications(start, self.size, inclusive_of_start=False, **options)
        if batch:
            biggest = max(len(notification.state) for notification in batch)
            self.size = max(1, min(self.limit, 2 * self.size, self.budget // max(biggest, 1)))
        return batch


def paced(app: Application[Any], start: int = 0, limit: int = BATCH, **options: Any) -> Iterator[Notification]:
    """Every notification after ``start`` (``options``: ``stop``, ``topics``), read in ``Pace``'s batches."""
    pace = Pace(limit)
    while batch := pace.read(app, start, **options):
        yield from batch
        start = batch[-1].id


def where(app: Application[Any], view: EvalsView) -> tuple[str, int]:
    """The tracking name of the view's live generation and its position (a batch is applied under that name)."""
    name = view.tracking_name(app.name, view.refresh())
    return name, view.max_tracking_id(name) or 0


def position(app: Application[Any], view: EvalsView) -> int:
    return where(app, view)[1]


@contextmanager
def collector_paused(paused: bool) -> Iterator[None]:
    """A rebuild's first pass allocates millions of short-lived tuples (its rows) and no reference cycles: the cyclic
    collector would run every 700 of them, its older generations scanning the rows held so far again and again, for
    nothing to free (measured: 13% of the pass's CPU)."""
    was_enabled = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused and was_enabled:
            gc.enable()


def catch_up(app: Application[Any], view: EvalsView, batch: int = BATCH, budget: int = 0) -> int:
    """Apply every notification not yet in the view, in transactions of at most ``batch`` notifications and about
    ``budget`` bytes of their state (``Pace``; 0: ``BATCH_BYTES``); return the view's position."""
    with collector_paused(view.bulk):
        return _catch_up(app, view, Pace(batch, budget))


def _catch_up(app: Application[Any], view: EvalsView, pace: Pace) -> int:
    name, last = where(app, view)
    deadlocks = 0
    read = stored.reader(app.mapper) if view.bulk else None  # a rebuild's first pass: rows from the stored JSON
    while True:
        notifications = pace.read(app, last)
        if not notifications:
            return last
        ops: list[Op] = []
        for notification in notifications:
            ops.extend(operations(app.mapper.to_domain_event(notification)) if read is None else read(notification))
        try:
            view.apply(ops, Tracking(name, notifications[-1].id), start=last)
        except Switched:  # a rebuild made another generation live: go on from its position
            name, last = where(app, view)
            continue
        except IntegrityError:
            now_name, now = where(app, view)
            if now_name == name and now <= last:
                raise  # not a lost race: a real conflict in the view rows
            name, last = now_name, now
            continue
        except OperationalError as exc:
            deadlocks += 1
            if "deadlock detected" not in str(exc) or deadlocks > 5:
                raise
            time.sleep(0.02 * deadlocks)  # PostgreSQL broke a lock cycle by aborting this batch: apply it again
            name, last = where(app, view)
            continue
        last = notifications[-1].id


def apply_own(app: Application[Any], view: EvalsView, recordings: Sequence[Recording[Any]]) -> bool:
    """Project the events this process has just saved from memory, without reading and decoding them from the log,
    if the view stands right before them; False when it does not (another process wrote in between, or caught up
    meanwhile): then ``catch_up`` reads the log as usual."""
    if not recordings:
        return True
    name, start = where(app, view)
    after = app.recorder.select_notifications(start=start, limit=1, inclusive_of_start=False)
    if not after or after[0].id != recordings[0].notification.id:
        return False
    ops = [op for recording in recordings for op in operations(recording.domain_event)]
    try:
        view.apply(ops, Tracking(name, recordings[-1].notification.id), start=start)
    except (IntegrityError, Switched):
        return False  # another process applied them first, or a rebuild switched generations
    return True


def wait_until(app: Application[Any], view: EvalsView, target: int, timeout: float = 30.0) -> bool:
    """Catch up until the view holds position ``target`` (read-your-writes)."""
    deadline = time.monotonic() + timeout
    while catch_up(app, view) < target:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
