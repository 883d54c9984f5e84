"""Batched readers of the log read batches bounded by bytes as well as by count (``catchup.Pace``): a run chunk's
one event holds up to 500 items, so a batch of 1,000 or 10,000 events could hold hundreds of thousands of items
(both stores)."""

from __future__ import annotations

import itertools
from typing import Any

from agnt5_evals.projections import catchup
from agnt5_evals.services import invariants
from agnt5_evals.services.audit import AuditFilter, events
from agnt5_evals.services.verify import verify
from tests.support import definition, execute


def a_log(services: Any, world: dict[str, Any]) -> None:
    """Small events (a dataset, its items added one by one) and big ones (a run's chunks of 3 items with traces)."""
    app = services.app
    ds = app.create_dataset("one by one")
    for n in range(30):
        app.add_items(ds.id, [{"input": {"n": n}, "expected_output": n}])
    spec = definition(world["dataset"], world["version"], world["good"], "exact_match", "json_valid")
    for _ in range(2):
        run_id = app.start_run(app.create_experiment("e", "", spec).id).id
        assert execute(services, run_id, chunk_items=3) == "completed"


def test_a_pace_sizes_each_batch_by_the_events_before_and_reads_every_notification_once(services, world):
    a_log(services, world)
    everything = services.app.recorder.select_notifications(0, 100_000, inclusive_of_start=False)
    biggest = max(len(n.state) for n in everything)
    budget = 3 * biggest  # about three of the biggest events (a run chunk's items), hundreds of the small ones

    def used(batch: Any) -> int:
        return sum(len(n.state) for n in batch)

    pace, start, read, batches = catchup.Pace(1000, budget), 0, [], []
    while batch := pace.read(services.app, start):
        batches.append(batch)
        read.extend(n.id for n in batch)
        start = batch[-1].id
    assert read == [n.id for n in everything]
    for before, batch in itertools.pairwise(batches):
        assert len(batch) <= max(1, min(2 * len(before), budget * len(before) // used(before)))
        assert used(batch) <= max(budget, biggest) * biggest * len(before) // used(before)  # by the size ratio at most
    assert max(map(len, batches)) > 3  # small events still come many at a time
    assert [n.id for n in catchup.paced(services.app, 0, 1000)] == read


def test_readers_of_the_whole_log_give_the_same_answers_in_small_batches(services, world, monkeypatch):
    a_log(services, world)
    services.catch_up()
    before = (
        [e["position"] for e in events(services, AuditFilter())],
        verify(services)["checked"],
        invariants.check(services).counted,
    )
    monkeypatch.setattr(catchup, "BATCH_BYTES", 2048)  # a batch of one or two run chunks' events at most
    monkeypatch.setattr(catchup, "FIRST_BATCH", 1)
    after = (
        [e["position"] for e in events(services, AuditFilter())],
        verify(services)["checked"],
        invariants.check(services).counted,
    )
    assert after == before and len(before[0]) > 50
    live = services.view.query("SELECT id, status FROM {p}run_items ORDER BY id", ())
    services.rebuild()
    assert services.view.query("SELECT id, status FROM {p}run_items ORDER BY id", ()) == live and len(live) == 20


def test_a_rebuild_gathers_batches_into_transactions_of_enough_rows_or_bytes(services, world, monkeypatch):
    from agnt5_evals.adapters import bootstrap

    a_log(services, world)
    services.catch_up()
    live = services.view.query("SELECT id, status, output FROM {p}run_items ORDER BY id", ())
    applied: list[int] = []
    real_catch_up = bootstrap.catch_up

    def counted(app: Any, view: Any, *args: Any) -> int:
        if view.bulk:
            real_apply = view.apply

            def apply(ops: Any, *rest: Any, **kwargs: Any) -> Any:
                applied.append(len(ops))
                return real_apply(ops, *rest, **kwargs)

            monkeypatch.setattr(view, "apply", apply)
        return real_catch_up(app, view, *args)

    monkeypatch.setattr(bootstrap, "catch_up", counted)
    monkeypatch.setattr(bootstrap, "REBUILD_BATCH", 2)  # batches of two events at most ...
    monkeypatch.setattr(bootstrap, "REBUILD_OPS", 40)  # ... gathered until 40 operations
    services.rebuild()
    assert services.view.query("SELECT id, status, output FROM {p}run_items ORDER BY id", ()) == live
    assert len(applied) > 2 and all(n >= 40 for n in applied[:-1]) and sum(applied) > 100
    applied.clear()
    monkeypatch.setattr(bootstrap, "REBUILD_OPS", 10**9)  # ... or until the budget's bytes: 3 small events
    monkeypatch.setattr(bootstrap, "REBUILD_BYTES", 3 * 400)
    services.rebuild()
    assert services.view.query("SELECT id, status, output FROM {p}run_items ORDER BY id", ()) == live
    assert len(applied) > 5
