"""A rebuild's first pass loads rows without indexes, vectors or statistics and builds them once at its end: the view
it switches to is row for row the one catch-ups built event by event, and a rebuild stopped midway leaves the old
view in service."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import Environment

from agnt5_evals.adapters import bootstrap
from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.runs import RunChunk
from agnt5_evals.domain.transcoding import OrjsonTranscoder
from agnt5_evals.projections import catchup, stored
from agnt5_evals.projections.handlers import (
    HANDLERS,
    INSERT_UPLOAD_ITEM,
    INSERT_VERSION,
    INSERT_VERSION_ITEM,
    operations,
)
from agnt5_evals.projections.schema import INDEXES, TABLES, VIEW_NAME
from agnt5_evals.projections.views import EvalsView
from agnt5_evals.worker.rescore import RescoreExecutor
from tests.application.test_rescore_aggregates import frac_experiment
from tests.support import definition, execute, recording_as_before

# what the fast path copies from the stored JSON must come out as the handlers write it: unicode (escaped and
# not), nested values, floats of every spelling, a JSON-looking string, errored items (the agent raises)
RICH = [
    {
        "order_id": "naïve ☃ 🚀 日本語",
        "nested": {"a": [1, 2.5, {"b": None, "c": [[]]}], "e": '\u2028\t"q"\\'},
        "floats": [1e16, 0.1, -0.0, 1.5e-7, 123456789.123],
        "big": 2**62,
        "text": '{"not": "parsed"}',
    },
    {"order_id": 7, "explode": True, "why": "ünïcödé error"},
    {"order_id": "", "empty": {}, "list": [], "null": None, "bool": [True, False]},
]


def rows(view: EvalsView) -> dict[str, list[str]]:
    """Every row of every table of the live generation, in a stable order (a vector's bytes included)."""
    out = {}
    for name in TABLES:
        found = view.query(f"SELECT * FROM {{p}}{name}", binary=name.endswith("_vectors"))
        out[name] = sorted(repr(sorted((k, bytes(v) if isinstance(v, memoryview) else v) for k, v in row.items()))
                           for row in found)  # fmt: skip
    return out


def history(services: Services, world: dict[str, Any], agent_dir: Any) -> None:
    """Runs that ended, one recorded as before ``ItemsRecorded`` and rescored, one still running; a dataset edited
    after its first version."""
    app = services.app
    experiment, zero = frac_experiment(services, world, agent_dir)
    done = [app.start_run(experiment).id for _ in range(2)]
    assert execute(services, done[0], chunk_items=3) == "completed"
    with recording_as_before():  # a run recorded before ItemsRecorded (an item per event), rescored below
        assert execute(services, done[1], chunk_items=3) == "completed"
    written = app.start_rescore(done[1], [{**zero, "key": "frac"}], [], 10, replace_latest=True)
    assert RescoreExecutor(services, written.id).execute() == "completed"
    app.start_run(experiment)  # never executed: running, without a vector
    rich = app.create_dataset("rich ☃")
    staged = [{"input": item, "expected_output": {"echo": item}, "metadata": {"tag": "ü"}} for item in RICH]
    app.commit_upload(app.stage_upload(rich.id, staged))  # staged in an UploadChunk, then copied to the draft
    version = app.publish(rich.id)
    for component, kind in (("support_agent", "agent"), ("echo", "function")):
        spec = definition(rich.id, version.id, world["good"], "exact_match", '{"name": "levenshtein", "config": '
                          '{"threshold": 0.95}}', "json_valid")  # fmt: skip
        spec["target"] = {**spec["target"], "component_name": component, "component_type": kind}
        assert execute(services, app.start_run(app.create_experiment(component, "", spec).id).id) == "completed"
    ds = app.create_dataset("edited")
    app.add_items(ds.id, [{"input": {"n": n}, "expected_output": n} for n in range(6)])
    app.publish(ds.id)
    app.add_items(ds.id, [{"input": {"n": 99}}])
    app.publish(ds.id)
    services.catch_up()


def log(services: Services) -> list[Any]:
    return services.app.recorder.select_notifications(start=0, limit=10**6)


def index_count(view: EvalsView) -> int:
    names = [index.split()[5].format(n=VIEW_NAME + f"_g{view.generation}") for index in INDEXES]
    if view.paramstyle == "format":  # PostgreSQL cuts a name to 63 bytes
        names = [name[:63] for name in names]
        sql = "SELECT COUNT(*) AS n FROM pg_indexes WHERE indexname = ANY(?)"
        return int(view.query(sql, (names,))[0]["n"])
    marks = ", ".join("?" * len(names))
    return int(view.query(f"SELECT COUNT(*) AS n FROM sqlite_master WHERE name IN ({marks})", tuple(names))[0]["n"])


def test_a_rebuilt_view_is_row_for_row_the_one_built_event_by_event(services, world, agent_dir):
    history(services, world, agent_dir)
    live = rows(services.view)
    assert len(live["run_vectors"]) == 4 and len(live["version_vectors"]) == 4 and live["rescore_items"]
    services.rebuild()
    assert services.view.generation > 0
    assert index_count(services.view) == len(INDEXES)
    assert rows(services.view) == live


def test_the_fast_path_gives_the_handlers_operations_for_every_event_of_the_log(services, world, agent_dir):
    history(services, world, agent_dir)
    notifications = log(services)
    qualnames = {type(services.app.mapper.to_domain_event(n)).__qualname__ for n in notifications}
    assert set(stored.FAST) <= qualnames  # every fast event type is in the log, with others going the usual way
    items = {"RunChunk.ItemsRecorded", "RunChunk.ItemRecorded"}  # a chunk's items, and an item of an older chunk
    assert {*items, "RescoreChunk.ItemRescored", "Run.Completed"} <= qualnames
    assert qualnames <= set(HANDLERS)
    read = stored.reader(services.app.mapper)
    for n in notifications:
        expected = list(operations(services.app.mapper.to_domain_event(n)))
        fast = read(n)
        assert fast == expected, n.topic
        assert [[type(v) for v in row] for _, row in fast] == [[type(v) for v in row] for _, row in expected]
    states = [n.state for n in notifications if n.topic.endswith(":RunChunk.ItemsRecorded")]
    assert any(b'"status":"errored"' in state for state in states) and any("☃".encode() in state for state in states)


def test_the_fast_path_decodes_as_the_mapper_does_compressed_encrypted_and_upcast_events(services, world, agent_dir):
    history(services, world, agent_dir)
    plain = services.app.mapper
    events = [plain.to_domain_event(n) for n in log(services)]
    key = AESCipher.create_key(16)
    for mapper in (
        Mapper(OrjsonTranscoder(), compressor=ZlibCompressor()),
        Mapper(OrjsonTranscoder(), compressor=ZlibCompressor(), cipher=AESCipher(Environment(env={"CIPHER_KEY": key}))),
    ):
        read = stored.reader(mapper)
        for event in events:
            record = mapper.to_stored_event(event)
            assert read(record) == list(operations(mapper.to_domain_event(record))), record.topic
    read = stored.reader(plain)
    items = [e for e in events if isinstance(e, RunChunk.ItemRecorded)]  # type: ignore[attr-defined]
    for event in items[:3]:  # recorded before attempts and tokens existed (class version 1): upcast on the dict
        record = plain.to_stored_event(event)
        old = orjson.loads(record.state)
        for field in ("attempts", "tokens", "class_version"):
            del old[field]
        v1 = StoredEvent(record.originator_id, record.originator_version, record.topic, orjson.dumps(old))
        assert read(v1) == list(operations(plain.to_domain_event(v1)))
        assert read(v1)[0][1][-2:] == (1, 0)


def test_a_rebuild_stopped_midway_leaves_the_old_view_in_service(services, world, agent_dir, monkeypatch):
    history(services, world, agent_dir)
    live, generation = rows(services.view), services.view.generation
    real = bootstrap.catch_up

    def killed(app: Any, view: EvalsView, batch: int = catchup.BATCH, budget: int = 0, least: int = 1) -> int:
        if view.bulk:  # the first pass: one small batch lands in the new generation, then the process dies
            real_apply = view.apply
            calls = []

            def apply(*args: Any, **kwargs: Any) -> None:
                if calls:
                    raise KeyboardInterrupt
                calls.append(1)
                real_apply(*args, **kwargs)

            monkeypatch.setattr(view, "apply", apply)
            return real(app, view, batch=5)
        return real(app, view, batch=batch, budget=budget, least=least)

    monkeypatch.setattr(bootstrap, "catch_up", killed)
    with pytest.raises(KeyboardInterrupt):
        services.rebuild()
    assert services.view.refresh() == generation
    assert rows(services.view) == live
    monkeypatch.setattr(bootstrap, "catch_up", real)
    services.rebuild()  # the next rebuild switches past the abandoned generation
    assert services.view.generation > generation + 1
    assert rows(services.view) == live


def test_a_first_pass_insert_that_ignores_duplicates_keeps_the_first_row_of_a_key(services):
    """Row by row in the live generation; in bulk in a new one (PostgreSQL: through COPY and a scratch table)."""
    staged = [("u", n % 3, f"c{n}", f"i{n}", '{"é": 1}', "null", "{}", "[]", None) for n in range(5)]  # keys 0 1 2 0 1
    items = [(v, n % 2, "c", f"i{n}", "{}", "null", "{}", "[]", "s", v) for v in ("new", "old") for n in range(3)]
    building = services.view.begin_generation()
    for view in (services.view, building):
        with view.datastore.transaction(commit=True) as cursor:
            view.execute(cursor, view.sql(INSERT_VERSION), ("old", "d", 1, "", "{}", 3, "t", "default"))
            view.executemany(cursor, view.sql(INSERT_UPLOAD_ITEM), staged[:1])
            view.executemany(cursor, view.sql(INSERT_UPLOAD_ITEM), staged[1:])
            view.executemany(cursor, view.sql(INSERT_VERSION_ITEM), items)  # "old" is recorded: its items are not
    found = [
        (view.query("SELECT * FROM {p}upload_items ORDER BY position"),
         view.query("SELECT * FROM {p}dataset_items ORDER BY version_id, position"))
        for view in (services.view, building)
    ]  # fmt: skip
    assert found[0] == found[1]
    assert [row["chunk_id"] for row in found[1][0]] == ["c0", "c1", "c2"]
    assert [(row["version_id"], row["item_id"]) for row in found[1][1]] == [("new", "i0"), ("new", "i1")]
