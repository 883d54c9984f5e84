"""The orjson transcoder keeps the library's wire format; every event type has a projection handler."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, DomainEvent, _created_event_classes
from eventsourcing.persistence import JSONTranscoder

from agnt5_evals import domain
from agnt5_evals.domain.runs import Run, RunChunk
from agnt5_evals.domain.transcoding import OrjsonTranscoder
from agnt5_evals.projections.handlers import HANDLERS


def test_round_trip_restores_top_level_types_and_snapshot_state():
    value = {"id": uuid4(), "at": datetime.now(UTC), "d": Decimal("1.5"), "items": [{"k": "v"}],
             "state": {"_id": uuid4(), "_created_on": datetime.now(UTC), "n": 1}}  # fmt: skip
    transcoder = OrjsonTranscoder()
    assert transcoder.decode(transcoder.encode(value)) == value


def test_wire_format_is_the_libraries_json_format():
    from eventsourcing.application import Application

    legacy = JSONTranscoder()
    Application.register_transcodings(None, legacy)  # type: ignore[arg-type]
    value = {"id": uuid4(), "at": datetime.now(UTC), "n": [1, 2]}
    assert OrjsonTranscoder().decode(legacy.encode(value)) == value
    assert legacy.decode(OrjsonTranscoder().encode(value)) == value


# Event classes the read model ignores on purpose. Each aggregate below names its created event (Run.Started,
# RunChunk.Opened, ...), so the library's default ``Created`` class, which it still defines, is never triggered:
# nothing of that type is ever stored. (Every aggregate's ``Event`` base class is abstract and skipped too.)
IGNORED = {
    "Run.Created",
    "RunChunk.Created",
    "Rescore.Created",
    "RescoreChunk.Created",
}


def domain_aggregates() -> list[type[Aggregate]]:
    """Every Aggregate subclass defined in agnt5_evals.domain and its subpackages."""
    found = []
    for info in pkgutil.walk_packages(domain.__path__, f"{domain.__name__}."):
        module = importlib.import_module(info.name)
        found += [c for _, c in inspect.getmembers(module, inspect.isclass)
                  if issubclass(c, Aggregate) and c is not Aggregate and c.__module__ == module.__name__]  # fmt: skip
    return found


def event_classes(aggregate: type[Aggregate]) -> dict[str, type[DomainEvent]]:
    """The event classes an aggregate defines (its own nested classes) by qualified name."""
    return {
        member.__qualname__: member
        for name, member in vars(aggregate).items()
        if inspect.isclass(member) and issubclass(member, DomainEvent) and name != "Event"
    }


def test_every_event_class_of_every_aggregate_has_a_handler_or_is_ignored_on_purpose():
    aggregates = domain_aggregates()
    assert {a.__name__ for a in aggregates} >= {"Dataset", "Run", "RunChunk", "Rescore", "RescoreChunk",
                                                "Annotation", "Prompt", "PromptVersion", "Scorer"}  # fmt: skip
    events = {name: cls for aggregate in aggregates for name, cls in event_classes(aggregate).items()}
    assert len(events) >= 35
    assert sorted(set(events) - set(HANDLERS) - IGNORED) == []
    assert sorted(set(HANDLERS) - set(events)) == []  # no handler for an event that no longer exists
    assert sorted(IGNORED - set(events)) == [] and sorted(IGNORED & set(HANDLERS)) == []  # the list stays minimal


def test_the_ignored_created_classes_are_never_triggered():
    # Constructing an aggregate triggers the one created event the library recorded for its class: the handled,
    # named one, never the ignored default (the library's own table; checked by constructing two of them below).
    triggered = {a.__name__: [c.__qualname__ for c in _created_event_classes[a]] for a in domain_aggregates()}
    assert all(len(names) == 1 and names[0] in HANDLERS for names in triggered.values()), triggered
    assert sorted(name for name in IGNORED if name in triggered[name.split(".")[0]]) == []
    assert [type(e).__qualname__ for e in Run(**RUN_FIELDS).collect_events()] == ["Run.Started"]
    assert [type(e).__qualname__ for e in RunChunk(run_id=uuid4(), chunk_no=0, start=0).collect_events()] == [
        "RunChunk.Opened"]  # fmt: skip


RUN_FIELDS = {"experiment_id": uuid4(), "experiment_version_id": uuid4(), "dataset_id": uuid4(),
              "dataset_version_id": uuid4(), "name": "r", "spec": {}, "n_items": 1, "repetitions": 1}  # fmt: skip


def test_fast_uuid5_strings_equal_the_standard_library():
    from uuid import uuid5

    from agnt5_evals.domain import ids

    for n in range(200):
        namespace = uuid4()
        name = f"item-{n}-é-{n % 3}"
        assert ids.uuid5_str(namespace, name) == str(uuid5(namespace, name))
    run, item = uuid4(), str(uuid4())
    assert ids.run_item_id_str(run, item, 2) == str(ids.run_item_id(run, item, 2))
    for spelling in (item, item.upper(), "{" + item + "}", item.replace("-", ""), f"urn:uuid:{item}"):
        assert ids.score_id_str(spelling, 1, "json_valid") == str(ids.score_id(UUID(item), 1, "json_valid"))
    with pytest.raises(ValueError):
        ids.score_id_str("not a run item id", 0, "exact_match")
