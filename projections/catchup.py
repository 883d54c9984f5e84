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
# Stored state read at once by a batched reader of the log (``Pace``): about what BATCH and REBUILD_BATCH events of
# a run item each held when every item was an event of its own (2.4 KB with three scores). A rebuild writes more
# with smaller transactions (SQLite's write-ahead log, PostgreSQL's WAL), so its batches hold as many items as then.
BATCH_BYTES = 4 * 1024 * 1024
REBUILD_BYTES = 24 * 1024 * 1024
# A rebuild's first pass applies at least this many row operations per transaction (about what 10,000 such events
# made: an item with three scores is 7): each commit writes again the pages of the primary keys' indexes its random
# ids touched, so fewer, bigger transactions write less (docs/benchmarks.md, "Rebuild").
REBUILD_OPS = 70_000
FIRST_BATCH = 64


class Pace:
    """How many notifications a batched reader of the log reads at once: at most ``limit``, and about ``budget``
    bytes of stored state. Events differ in size a thousandfold (a dataset edit: a few hundred bytes; a run chunk's
    ``ItemsRecorded``: up to 500 items, about 1 MiB), so a count alone does not bound a batch's memory. Each batch
    holds as many events as the batch before would have needed to fill the budget (from its events' mean size), and
    at most twice as many as it held (``FIRST_BATCH`` at first): a run's events (a chunk's one big event between two
    small ones) are read a budget at a time, a log of small events ``limit`` at a time. A batch whose events are
    bigger than the ones before can exceed the budget, by that ratio at most (it is learnt one batch late)."""

    def __init__(self, limit: int, budget: int = 0) -> None:
        self.limit, self.budget = limit, budget or BATCH_BYTES
        self.size = min(limit, FIRST_BATCH)

    def read(self, app: Application[Any], start: int, **options: Any) -> Sequence[Notification]:
        """The next batch of notifications after ``start`` (``options``: ``stop``, ``topics``)."""
        batch = app.recorder.select_notifications(start, self.size, inclusive_of_start=False, **options)
        if batch:
            used = max(1, sum(len(notification.state) for notification in batch))
            self.size = max(1, min(self.limit, 2 * len(batch), self.budget * len(batch) // used))
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


def catch_up(app: Application[Any], view: EvalsView, batch: int = BATCH, budget: int = 0, least: int = 1) -> int:
    """Apply every notification not yet in the view, read in batches of at most ``batch`` notifications and about
    ``budget`` bytes of their state (``Pace``; 0: ``BATCH_BYTES``); a transaction gathers batches until they make
    ``least`` row operations (a rebuild's ``REBUILD_OPS``; a batch that makes none joins the next) or hold the
    budget's bytes; return the view's position."""
    with collector_paused(view.bulk):
        return _catch_up(app, view, Pace(batch, budget), least)


def _catch_up(app: Application[Any], view: EvalsView, pace: Pace, least: int) -> int:
    name, last = where(app, view)
    deadlocks = 0
    read = stored.reader(app.mapper) if view.bulk else None  # a rebuild's first pass: rows from the stored JSON
    while True:
        ops: list[Op] = []
        end = start = last
        size = 0  # stored state gathered: a transaction also stops at the budget, whatever its operations
        while len(ops) < least and size < pace.budget and (notifications := pace.read(app, end)):
            for notification in notifications:
                ops.extend(operations(app.mapper.to_domain_event(notification)) if read is None else read(notification))
                size += len(notification.state)
            end = notifications[-1].id
        if end == start:
            return last
        try:
            view.apply(ops, Tracking(name, end), start=last)
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
        last = end


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
