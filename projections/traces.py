"""A run item's trace as the read model stores it: each event that only repeats what its position and the trace's
correlation id say is kept as ``[event_type, timestamp_ns, data]``.

The worker records every item's trace events in the form ``Context.event`` makes them: ``event_id`` is the
correlation id and the event's index, ``parent_correlation_id`` and ``name`` are null. Stored whole, a fast item's
two events (``run.started``, ``run.completed``) took 532 bytes of its 821-byte row; kept compact, 213. The
log keeps the events as recorded; reads give them back exactly (``expand``: encoding its answer gives the bytes that
encoding the recorded events gives, key order included).

A compact trace is a JSON object, ``{"c": correlation_id, "e": [...]}``; a stored trace that is a list is the trace
itself (a trace with nothing to elide). A run item's trace and a dataset item's events are lists
(``domain.app_datasets`` refuses anything else), so an object in an ``events`` column is always this form (or
``{"v": value}``, how a trace that is an object would be stored); ``queries`` expands it by the column's name. The
read model's name changed with this form (``agnt5v17``): no view holds both forms.
"""

from __future__ import annotations

from typing import Any

FIELDS = ("event_type", "event_id", "correlation_id", "parent_correlation_id", "timestamp_ns", "data", "name")


def compact(events: Any) -> Any:
    """``events`` with each event that ``expand`` rebuilds exactly replaced by ``[event_type, timestamp_ns, data]``
    (the seven fields in that order, the first event's correlation id, ``event_id`` its index, no parent, no
    name); ``events`` itself when none is, or when it is not a list of events; an object wrapped as ``{"v": ...}``.
    It works on the values the worker has in memory too (``catchup.apply_own``), so it goes by what orjson
    writes: a tuple is an array, a dict subclass an object."""
    if isinstance(events, dict):  # never recorded (a trace is a list), but it would read back as a compact trace
        return {"v": events}
    if type(events) is not list or not events or type(events[0]) is not dict:
        return events
    cid = events[0].get("correlation_id")
    if type(cid) is not str:
        return events
    kept: list[Any] = []
    elided = False
    for index, event in enumerate(events):
        if isinstance(event, (list, tuple)):  # an array in the trace would read back as a compact event
            return events
        if (
            type(event) is dict
            and tuple(event) == FIELDS
            and type(event["event_type"]) is str
            and event["correlation_id"] == cid
            and event["event_id"] == f"{cid}:{index}"
            and event["parent_correlation_id"] is None
            and event["name"] is None
        ):
            kept.append([event["event_type"], event["timestamp_ns"], event["data"]])
            elided = True
        else:
            kept.append(event)
    return {"c": cid, "e": kept} if elided else events


def expand(stored: Any) -> Any:
    """The trace ``compact`` stored: a compact one rebuilt event by event, anything else as it is."""
    if type(stored) is not dict or "e" not in stored:
        return stored["v"] if type(stored) is dict and "v" in stored else stored
    cid = stored["c"]
    return [_event(cid, index, event) if type(event) is list else event for index, event in enumerate(stored["e"])]


def _event(cid: str, index: int, kept: list[Any]) -> dict[str, Any]:
    event_type, timestamp_ns, data = kept
    return {"event_type": event_type, "event_id": f"{cid}:{index}", "correlation_id": cid,
            "parent_correlation_id": None, "timestamp_ns": timestamp_ns, "data": data, "name": None}  # fmt: skip
