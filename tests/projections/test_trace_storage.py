"""The read model keeps each run item's trace compact (``projections.traces``), and every read gives back the
events the log recorded, byte for byte: items (decoded and raw), one item, failures and their stack, a rebuilt
view (both stores)."""

from __future__ import annotations

from typing import Any

import orjson

from agnt5_evals.projections import queries
from agnt5_evals.services import runs
from tests.support import definition, execute, logged_items


def _recorded(services) -> dict[str, list[dict[str, Any]]]:
    """Each run item's trace as the log holds it (in its chunk's ``ItemsRecorded`` event)."""
    return {item["run_item_id"]: item["events"] for item in logged_items(services.app)}


def test_reads_give_back_the_recorded_trace_exactly(services, agent_dir):
    from tests.support import make_world

    world = make_world(services, agent_dir)
    app = services.app
    ds = app.create_dataset("mixed")
    app.add_items(ds.id, [{"input": {"order_id": n, "explode": n % 3 == 0}, "expected_output": n} for n in range(7)])
    version = app.publish(ds.id)
    spec = definition(ds.id, version.id, world["good"], "exact_match")
    run_id = app.start_run(app.create_experiment("traces", "", spec).id).id
    assert execute(services, run_id) == "completed"
    services.catch_up()

    recorded = _recorded(services)
    assert len(recorded) == 7
    stored = {r["id"]: r["events"] for r in services.view.query("SELECT id, events FROM {p}run_items", ())}
    assert all(text.startswith("{") for text in stored.values())  # every trace here has events to elide
    assert sum(map(len, stored.values())) < sum(len(orjson.dumps(t)) for t in recorded.values())

    items = queries.run_items(services.view, str(run_id))
    raw = queries.run_items(services.view, str(run_id), raw=True)
    assert {i["id"]: i["events"] for i in items} == recorded
    assert {i["id"]: i["events"].text.encode() for i in raw} == {k: orjson.dumps(v) for k, v in recorded.items()}
    for item_id, trace in recorded.items():
        assert queries.run_item(services.view, item_id)["events"] == trace

    for raw_read in (False, True):  # the stack of each item that raised, found in its trace
        stacks = {f["position"]: f["stack"] for f in runs.failures(services, str(run_id), raw=raw_read)}
        assert len(stacks) == 7  # exact_match fails the others
        assert sorted(p for p, stack in stacks.items() if stack and "RuntimeError: boom" in stack) == [0, 3, 6]
        assert [stacks[p] for p in (1, 2, 4, 5)] == [None] * 4

    services.rebuild()
    assert {r["id"]: r["events"] for r in services.view.query("SELECT id, events FROM {p}run_items", ())} == stored
    assert {i["id"]: i["events"] for i in queries.run_items(services.view, str(run_id))} == recorded
