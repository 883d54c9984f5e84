"""What a run's dispatch reads of its dataset version, in memory bounded whatever the run's size: the items, read
chunk by chunk as the dispatch reaches them (``VersionItems``), and the positions to execute, as ranges
(``Positions``).

A version's items are stored in ``DatasetVersionChunk`` aggregates of at most 500 items or 1 MiB each, in order.
A dispatch takes positions in ascending order, at most its window ahead of what it recorded, so it needs the
chunks that hold the next window's items: ``VersionItems`` holds those and drops the ones below, so a 100k-item
run holds a few chunks, not 100k items (about 1 KB each once decoded).
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol
from uuid import UUID

from agnt5_evals.domain.application import EvalsApplication
from agnt5_evals.domain.model import DatasetVersion, DatasetVersionChunk

Item = dict[str, Any]


class Items(Protocol):
    """A dataset version's items by index, as a dispatch reads them: ``ensure`` (this thread may read the store)
    before ``get`` (any thread), and ``drop_below`` what it will not read again."""

    def ensure(self, index: int) -> int: ...

    def get(self, index: int) -> Item: ...

    def drop_below(self, index: int) -> None: ...


class ListItems:
    """Items already in memory (a small run's, or a test's)."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = items

    def ensure(self, index: int) -> int:
        return len(self.items)

    def get(self, index: int) -> Item:
        return self.items[index]

    def drop_below(self, index: int) -> None:
        pass


class VersionItems:
    """A dataset version's items, read one chunk at a time when first needed and dropped once passed.

    ``ensure`` reads from the store (call it from the thread that owns the store's connection); ``get`` and
    ``drop_below`` are safe from any thread. Chunks are found by their place in the version's list: the next
    chunk after those read so far (a run proceeds in order), else by bisection over the chunks' starts (a run
    that resumes midway), so nothing before the items needed is kept.
    """

    def __init__(self, load: Callable[[UUID], DatasetVersionChunk], version: DatasetVersion) -> None:
        self.load = load
        self.chunk_ids = [UUID(c) for c in version.chunk_ids]
        self.n_items = version.n_items
        self.bounds: dict[int, tuple[int, int]] = {}  # chunk number -> its items [start, end): a few ints each
        self.held: dict[int, list[Item]] = {}  # chunk number -> its items, for the chunks in use
        self.starts: list[int] = []  # the starts of the held chunks, sorted
        self.lock = threading.Lock()
        self._last: tuple[int, Sequence[Item]] | None = None  # the chunk ``_read`` read last, and its items

    @classmethod
    def of(cls, app: EvalsApplication, version: DatasetVersion) -> VersionItems:
        return cls(lambda chunk_id: app.get(DatasetVersionChunk, chunk_id, "dataset version chunk"), version)

    def ensure(self, index: int) -> int:
        """Hold the chunk with item ``index``; the end of that chunk (the first index it does not hold)."""
        if not 0 <= index < self.n_items:
            raise IndexError(f"item {index} of a version of {self.n_items} items")
        with self.lock:
            k = self._held_at(index)
            if k is not None:
                return self.bounds[k][1]
        k = self._find(index)
        return self.bounds[k][1]

    def get(self, index: int) -> Item:
        with self.lock:
            k = self._held_at(index)
            if k is None:
                raise LookupError(f"item {index} is not read yet (ensure it first)")
            return self.held[k][index - self.bounds[k][0]]

    def drop_below(self, index: int) -> None:
        """Forget the chunks wholly below item ``index``."""
        with self.lock:
            for k in [k for k, (_, end) in self.bounds.items() if k in self.held and end <= index]:
                del self.held[k]
            self.starts = sorted(self.bounds[k][0] for k in self.held)

    def _held_at(self, index: int) -> int | None:
        n = bisect.bisect_right(self.starts, index) - 1
        if n < 0:
            return None
        start = self.starts[n]
        k = next(k for k in self.held if self.bounds[k][0] == start)
        return k if index < self.bounds[k][1] else None

    def _read(self, k: int) -> tuple[int, int]:
        """Read chunk ``k``: note its bounds, and hold its items until ``_find`` keeps or drops them."""
        chunk = self.load(self.chunk_ids[k])
        bounds = (int(chunk.start), int(chunk.start) + len(chunk.items))
        with self.lock:
            self.bounds[k] = bounds
        self._last = (k, chunk.items)
        return bounds

    def _find(self, index: int) -> int:
        """Read the chunk holding item ``index`` and keep it (each chunk is read once); its number. A chunk whose
        bounds are known (found before, or by another shard: ``SharedChunks``) is not searched for: the search
        tries the chunk after the last known one below ``index`` (a run proceeds in order), then bisects between
        the known chunks on either side."""
        self._last = None
        below, above = -1, len(self.chunk_ids)  # the known chunks nearest to ``index`` on either side
        for k, (start, end) in self.bounds.items():
            if start <= index < end:
                return self._keep(k)
            if end <= index:
                below = max(below, k)
            else:
                above = min(above, k)
        lo, hi = below + 1, above - 1
        if lo <= hi:
            start, end = self._read(lo)
            if start <= index < end:
                return self._keep(lo)
            lo += 1
        while lo <= hi:
            mid = (lo + hi) // 2
            self._last = None
            start, end = self.bounds.get(mid) or self._read(mid)
            if index < start:
                hi = mid - 1
            elif index >= end:
                lo = mid + 1
            else:
                return self._keep(mid)
        raise IndexError(f"item {index} is in no chunk of the version")

    def _keep(self, k: int) -> int:
        """Hold chunk ``k``'s items: those just read if they are its, else read again (a chunk dropped before)."""
        if k not in self.held:
            if self._last is None or self._last[0] != k:
                self._read(k)
            assert self._last is not None
            with self.lock:
                self.held[k] = list(self._last[1])
                self.starts = sorted(self.bounds[c][0] for c in self.held)
        self._last = None
        return k


class SharedChunks:
    """A dataset version's chunks as the shards of one run read them in a pool worker process: where each chunk
    starts and ends once any shard found it, and the last ``keep`` chunks read. Each shard's dispatch reads through
    its own ``VersionItems`` (``items``), so what one holds is never dropped by another, and tells what it found
    (``learn``): a shard finds its chunk without reading the ones a search passes, and the shards after it in the
    same chunk read nothing. What the run's shards hold in this process stays a few chunks, whatever the run's
    size (a version's items were kept whole before, about 1 KB each once decoded).
    """

    def __init__(self, load: Callable[[UUID], DatasetVersionChunk], version: DatasetVersion, keep: int = 4) -> None:
        self._load, self.version, self.keep = load, version, keep
        self.bounds: dict[int, tuple[int, int]] = {}
        self.numbers = {UUID(c): k for k, c in enumerate(version.chunk_ids)}
        self.recent: OrderedDict[UUID, DatasetVersionChunk] = OrderedDict()
        self.loading: dict[UUID, Future[DatasetVersionChunk]] = {}  # read by one shard, awaited by the others
        self.lock = threading.Lock()

    @classmethod
    def of(cls, app: EvalsApplication, version: DatasetVersion) -> SharedChunks:
        return cls(lambda chunk_id: app.get(DatasetVersionChunk, chunk_id, "dataset version chunk"), version)

    def load(self, chunk_id: UUID) -> DatasetVersionChunk:
        """A chunk from the last ones read, else read once (shards that ask for it meanwhile wait for that read),
        its bounds noted for the shards that start after."""
        with self.lock:
            chunk = self.recent.get(chunk_id)
            if chunk is not None:
                self.recent.move_to_end(chunk_id)
                return chunk
            pending = self.loading.get(chunk_id)
            reader = pending is None
            if pending is None:
                pending = self.loading[chunk_id] = Future()
        if not reader:
            return pending.result()
        try:
            chunk = self._load(chunk_id)  # outside the lock: the other shards go on meanwhile
        except BaseException as exc:
            with self.lock:
                del self.loading[chunk_id]
            pending.set_exception(exc)
            raise
        with self.lock:
            self.recent[chunk_id] = chunk
            while len(self.recent) > self.keep:
                self.recent.popitem(last=False)
            self.bounds[self.numbers[chunk_id]] = (int(chunk.start), int(chunk.start) + len(chunk.items))
            del self.loading[chunk_id]
        pending.set_result(chunk)
        return chunk

    def items(self) -> VersionItems:
        """A shard's own view of the items, starting from the chunk bounds found so far."""
        items = VersionItems(self.load, self.version)
        with self.lock:
            items.bounds.update(self.bounds)
        return items

    def learn(self, items: VersionItems) -> None:
        with items.lock:
            found = dict(items.bounds)
        with self.lock:
            self.bounds.update(found)


class Positions(Sequence[int]):
    """Ascending positions given as ranges (each open shard from its watermark to its end), indexed without
    listing them: a 100k-item run's order is a few ranges, not 100k ints."""

    def __init__(self, ranges: Sequence[tuple[int, int]]) -> None:
        self.ranges = [(start, end) for start, end in ranges if end > start]
        self.offsets: list[int] = []  # the index of each range's first position
        total = 0
        for start, end in self.ranges:
            self.offsets.append(total)
            total += end - start
        self.total = total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.total))]
        if i < 0:
            i += self.total
        if not 0 <= i < self.total:
            raise IndexError(i)
        n = bisect.bisect_right(self.offsets, i) - 1
        return self.ranges[n][0] + i - self.offsets[n]
