"""How many of a run's item threads may run at once: ``concurrency`` at most, fewer when fewer finish items as fast.

A target that waits (an HTTP call, a model, a sleep) needs every thread the run allows. A target that computes in
Python does not: the item threads take turns holding the interpreter's lock, and each extra thread only adds
hand-overs (with eight threads, a fast target's 10,000-item run took about a third longer than with one, measured
in ``docs/benchmarks.md``). So every ``PERIOD`` the dispatch reports how much CPU the worker used and how many items
finished; :class:`Tuner` answers with the number of threads that may take a new item:

- the worker's CPU is not saturated (below ``IDLE`` of a core): threads are not what limits the run, so the limit
  doubles back towards ``concurrency`` (it starts there);
- it is saturated (``BUSY`` to ``MULTICORE`` cores: one interpreter's worth) and the last halving did not cost
  throughput: halve the limit again and remember what the run did before;
- a halving that lost more than ``LOSS`` of the items per second is undone, and the limit never goes below that
  again in this run (so a target that both waits and computes keeps the threads that pay for themselves);
- more than ``MULTICORE`` cores busy: the target runs outside the interpreter's lock (a C extension), so threads
  run in parallel; nothing changes.

The limit only ever lowers how many threads take *new* items: a thread past the limit finishes its item and waits.
"""

from __future__ import annotations

from dataclasses import dataclass

PERIOD = 0.25  # seconds between two looks (each needs enough items finished to compare)
IDLE = 0.5  # below this many cores of CPU, the worker is waiting on its targets: allow more threads
BUSY = 0.8  # from this many, the worker is saturated: fewer threads may do as well
MULTICORE = 1.3  # above this many, the threads run in parallel (outside the interpreter's lock): leave them
LOSS = 0.1  # a halving that lost more than this share of the items per second is undone


@dataclass
class Tuner:
    """The limit on item threads taking new items, from what the worker did in each period (``step``)."""

    concurrency: int
    limit: int = 0
    floor: int = 1  # the lowest limit allowed: raised to a limit whose halving cost throughput
    before: tuple[int, float] | None = None  # the limit and its items/s just before the last halving

    def __post_init__(self) -> None:
        self.concurrency = max(1, self.concurrency)
        self.limit = self.limit or self.concurrency

    def step(self, cores: float, rate: float) -> int:
        """The next limit, given the CPU the worker used (in cores) and the items it finished per second during
        the last period at the current limit."""
        if self.before is not None:  # the last step halved the limit: judge it first, whatever the CPU now
            limit, was = self.before
            self.before = None
            if rate < was * (1 - LOSS):
                self.limit = self.floor = limit  # the halving cost items per second: undo it, for good
                return self.limit
        if cores < IDLE:
            self.limit = min(self.concurrency, self.limit * 2)
        elif BUSY <= cores <= MULTICORE and self.limit // 2 >= self.floor:
            self.before = (self.limit, rate)
            self.limit //= 2
        return self.limit
