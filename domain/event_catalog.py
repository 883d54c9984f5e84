"""Every aggregate of the domain and its event classes, as the log stores them (docs/events.md is made from this).

The catalog is read off the classes themselves, so it cannot drift: a new aggregate in one of ``MODULES``, a new
``@event`` method, a new field or a new ``class_version`` shows up in it (and the test that keeps docs/events.md
equal to it fails until the doc is regenerated with ``scripts/gen-events-docs``).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass

from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.utils import get_topic

MODULES = (
    "agnt5_evals.domain.model",
    "agnt5_evals.domain.prompts",
    "agnt5_evals.domain.runs",
    "agnt5_evals.domain.rescores",
    "agnt5_evals.domain.annotations",
    "agnt5_evals.domain.keys",
)
BASE_FIELDS = ("originator_id", "originator_version", "timestamp")  # every event has them
CREATED_FIELDS = ("originator_topic",)  # and the first event of an aggregate this one


@dataclass(frozen=True)
class EventClass:
    """One stored event type: its topic, class version and payload fields (name and declared type)."""

    aggregate: str
    name: str
    topic: str
    class_version: int
    fields: tuple[tuple[str, str], ...]


def aggregates() -> list[type[Aggregate]]:
    """The aggregate classes of the domain, in module order."""
    found: list[type[Aggregate]] = []
    for name in MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, Aggregate) and value.__module__ == name:
                found.append(value)
    return found


def event_classes(aggregate: type[Aggregate]) -> list[EventClass]:
    """The events an aggregate records (the generic base ``Event`` left out)."""
    events = []
    for name, value in vars(aggregate).items():
        if not (inspect.isclass(value) and issubclass(value, DomainEvent)) or name == "Event":
            continue
        skip = BASE_FIELDS + CREATED_FIELDS
        fields = tuple((f.name, str(f.type)) for f in dataclasses.fields(value) if f.name not in skip)
        version = int(getattr(value, "class_version", 1))
        events.append(EventClass(aggregate.__name__, name, get_topic(value), version, fields))
    return events


def catalog() -> list[EventClass]:
    return [event for aggregate in aggregates() for event in event_classes(aggregate)]
