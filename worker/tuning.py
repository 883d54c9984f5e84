"""How many of a run's item threads take items: ``concurrency`` at most, fewer when fewer keep the worker as busy.

A target that waits (an HTTP call, a model, a sleep) needs every thread the run allows. A target that computes in
Python does not: the item threads take turns holding the interpreter's lock, and each extra thread only adds
hand-overs (a fast target's 10,000-item run is measured in ``docs/benchmarks.md``). The worker is then saturated:
its threads use about one core, the interpreter's lock's worth, and fewer threads would do the same work with fewer
hand-overs. So every period (``PERIOD`` seconds holding ``PERIOD_SAVES`` saves) the dispatch reports the CPU its
threads used and the items it recorded, and :class:`Tuner` answers with the number of threads that may take items:

- a period that recorded too few items to judge (``MIN_ITEMS``, or two per thread: ``enough``) is not over: the
  dispatch lets it run on until it has them (so a target that slows down after a halving still gets its threads
  back). The period right after a change is not judged: the threads past a lowered limit are still finishing;
- saturated (``BUSY`` to ``MULTICORE`` cores): halve the limit;
- a halving is judged on the next period: if the threads are no longer saturated (below ``BUSY``), or fewer items
  were recorded per second than before it, it cost work (the threads now wait on their targets where more kept the
  worker busy). It is undone, and the limit never goes that low again in this dispatch (so a target that both
  waits and computes keeps the threads that pay for themselves);
- below ``IDLE`` of a core the threads wait on their targets: the limit doubles back towards ``concurrency``
  (where it starts);
- in between, or above ``MULTICORE`` (the target runs outside the interpreter's lock, in parallel): it stays.

Neither signal is enough alone: a target that sleeps 2 ms per item at concurrency 32 kept its threads at 0.81-0.87
cores when halved from 16 to 8 while recording a quarter to a third fewer items per second (so ``BUSY`` is close to
a whole core, and the items per second are checked too); and the items per second drift down as a run's tables
grow (by a third over the first second of a 10,000-item run of a fast target at a fixed number of threads), which
counts against a halving. So the tuner errs towards more threads: a halving that gained less than the drift is
undone. That is the safe side: the run keeps the concurrency it asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

PERIOD = 0.1  # seconds in a period, at least
PERIOD_SAVES = 2  # saves in a period, at least: a period holds whole saves, more than one
MIN_ITEMS = 20  # a period that recorded fewer items is not judged (nor one with fewer than two per thread)
IDLE = 0.5  # below this many cores of CPU, the threads wait on their targets: allow more of them
BUSY = 0.9  # from this many, the threads are saturated: fewer may do as much
MULTICORE = 1.3  # above this many, the threads run in parallel (outside the interpreter's lock): leave them
LOSS = 0.0  # a halving after which the items recorded per second fell by more than this share is undone: any fall


@dataclass
class Tuner:
    """The limit on item threads taking items, from what the threads did in each period (``step``)."""

    concurrency: int
    limit: int = 0
    floor: int = 1  # the lowest limit allowed: raised to a limit whose halving left the threads waiting
    halved: tuple[int, float] | None = None  # the limit and its items/s before the last change, a halving not judged
    settling: bool = False  # the limit just changed: the next period shows the change under way, not its effect

    def __post_init__(self) -> None:
        self.concurrency = max(1, self.concurrency)
        self.limit = min(self.concurrency, self.limit) if self.limit > 0 else self.concurrency

    def enough(self, items: int) -> bool:
        """Whether a period that recorded this many items can be judged."""
        return items >= max(MIN_ITEMS, 2 * self.limit)

    def step(self, cores: float, rate: float, items: int) -> int:
        """The next limit, given the CPU the threads used (in cores) during the last period at the current limit,
        the items recorded per second and how many."""
        if not self.enough(items):
            return self.limit  # too few to judge anything by (the dispatch waits for enough)
        if self.settling:
            self.settling = False
            return self.limit
        if self.halved is not None:  # the last change halved the limit: judge it first
            (limit, was), self.halved = self.halved, None
            if cores < BUSY or rate < was * (1 - LOSS):
                self.floor = limit
                return self._set(limit)  # the threads wait now where more kept the worker busy: undone, for good
        if cores < IDLE:
            return self._set(min(self.concurrency, self.limit * 2))
        if BUSY <= cores <= MULTICORE and self.limit // 2 >= self.floor:
            self.halved = (self.limit, rate)
            return self._set(self.limit // 2)
        return self.limit

    def _set(self, limit: int) -> int:
        self.settling = limit != self.limit
        self.limit = limit
        return limit
