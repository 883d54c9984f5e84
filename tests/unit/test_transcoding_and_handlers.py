"""The orjson transcoder keeps the library's wire format; every event type has a projection handler."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder

from agnt5_evals.domain import model, prompts, runs
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


def test_every_event_class_has_a_handler():
    events = []
    for module in (model, prompts, runs):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not (issubclass(cls, Aggregate) and cls.__module__ == module.__name__):
                continue
            nested = [m for _, m in inspect.getmembers(cls, inspect.isclass) if issubclass(m, Aggregate.Event)]
            names = {m.__qualname__.split(".")[-1]: m for m in nested if m.__qualname__.startswith(cls.__name__)}
            names.pop("Event", None)
            creators = [n for n, m in names.items() if n != "Created" and issubclass(m, Aggregate.Created)]
            if creators:  # the created event has its own name (Run.Started): Created is only a base class
                names.pop("Created", None)
            events += [f"{cls.__name__}.{n}" for n in names]
    assert len(events) >= 15
    assert sorted(set(events) - set(HANDLERS)) == []


def test_fast_uuid5_strings_equal_the_standard_library():
    from uuid import uuid5

    from agnt5_evals.domain import ids

    for n in range(200):
        namespace = uuid4()
        name = f"item-{n}-é-{n % 3}"
        assert ids.uuid5_str(namespace, name) == str(uuid5(namespace, name))
    run, item = uuid4(), str(uuid4())
    assert ids.run_item_id_str(run, item, 2) == str(ids.run_item_id(run, item, 2))
    assert ids.score_id_str(item, 1, "json_valid") == str(ids.score_id(UUID(item), 1, "json_valid"))
