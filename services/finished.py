"""What a finished run's reads compute (latency percentiles, comparisons), kept per process.

A finished run changes only by rescores (annotations are read apart), so an entry is keyed by the runs' stamps
(``projections.vectors.stamp``: status, items done, rescores and their items done), read from the store on every
request: a rescore, even one recorded by another process, makes a new key and the old entry is never read again.
A run that can still change (running, or a rescore running) has no stamp and is computed every time.
"""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from agnt5_evals.adapters.reads import Reader
from agnt5_evals.projections import vectors

T = TypeVar("T")
SIZE = 128  # entries kept (a comparison with its first page of flips is tens of KB)
_entries: OrderedDict[Hashable, bytes] = OrderedDict()  # pickled, so a hit is a copy
_lock = threading.Lock()


def cached(svc: Reader, what: str, run_ids: tuple[str, ...], args: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, or a copy of what it gave for the same runs in the same state and the same ``args``."""
    stamps = tuple(vectors.stamp(svc.view, run_id) for run_id in run_ids)
    if any(stamp is None for stamp in stamps):
        return compute()
    key = (svc.settings.home, svc.settings.database_url, what, run_ids, stamps, args)
    with _lock:
        kept = _entries.get(key)
        if kept is not None:
            _entries.move_to_end(key)
    if kept is not None:
        hit: T = pickle.loads(kept)  # a copy: callers may change what they get (a third of deepcopy's time)
        return hit
    value = compute()
    kept = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)  # this process's own values, never another's bytes
    with _lock:
        _entries[key] = kept
        while len(_entries) > SIZE:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    """Forget every entry (tests)."""
    with _lock:
        _entries.clear()
