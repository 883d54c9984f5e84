"""Rebuild without downtime: a new generation is built beside the live one and switched to atomically; catch-ups
racing it never move a view past rows they did not write, and readers never see a missing or empty view."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from typer.testing import CliRunner

from agnt5_evals.adapters import bootstrap
from agnt5_evals.adapters.bootstrap import Services, Settings
from agnt5_evals.cli.main import app as cli
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.projections import catchup, queries
from agnt5_evals.projections.schema import TABLES
from agnt5_evals.projections.views import EvalsView
from tests.support import definition, execute, wait_until


def tables(view: EvalsView) -> dict[str, list[str]]:
    """Every row of every table of the live generation, in a stable order."""
    return {
        name: sorted(repr(sorted(row.items())) for row in view.query(f"SELECT * FROM {{p}}{name}")) for name in TABLES
    }


def fill(services: Services, datasets: int) -> list[str]:
    """Datasets with a few items each, projected by one catch-up at the end."""
    app = services.app
    ids = []
    with services.catch_up_later():
        for n in range(datasets):
            ds = app.create_dataset(f"ds-{n:04d}")
            app.add_items(ds.id, [{"input": {"n": n, "i": i}, "expected_output": i} for i in range(3)])
            ids.append(str(ds.id))
    services.catch_up()
    return ids


def holding_first_catch_up(
    monkeypatch: pytest.MonkeyPatch, before: Callable[[], None], after: Callable[[], None]
) -> None:
    """The rebuild's first catch-up runs ``before`` ahead of it and ``after`` behind it (the point where a rebuild
    has started but not yet switched). Only the test's own thread is held: the writers' threads also catch up
    through ``bootstrap.catch_up``, and holding one of them on a wait for its own writes would stall it."""
    real = bootstrap.catch_up
    calls = []

    def held(app: Any, view: EvalsView, *args: Any) -> int:
        if threading.current_thread() is not threading.main_thread():
            return real(app, view, *args)
        calls.append(1)
        if len(calls) == 1:
            before()
        reached = real(app, view, *args)
        if len(calls) == 1:
            after()
        return reached

    monkeypatch.setattr(bootstrap, "catch_up", held)


class HeldCatchUp:
    """A catch-up of ``other`` in a thread that reads its position and computes its batch, then waits before it
    commits until ``commit`` is called (the reader of defect 2)."""

    def __init__(self, other: Services, monkeypatch: pytest.MonkeyPatch) -> None:
        self.other = other
        self.computed, self.go = threading.Event(), threading.Event()
        self.outcome: list[object] = []
        real = other.view.apply

        def held(ops: list[Any], tracking: Tracking, *args: Any, **kwargs: Any) -> None:
            if not self.go.is_set():
                self.computed.set()
                self.go.wait()
            real(ops, tracking, *args, **kwargs)

        monkeypatch.setattr(other.view, "apply", held)
        self.thread = threading.Thread(target=self.run)
        self.thread.start()
        wait_until(self.computed.is_set, message="the catch-up computed no batch")

    def run(self) -> None:
        try:
            self.outcome.append(catchup.catch_up(self.other.app, self.other.view))
        except Exception as exc:
            self.outcome.append(exc)

    def commit(self) -> object:
        self.go.set()
        self.thread.join()
        return self.outcome[0]


def test_a_catch_up_computed_before_a_rebuild_cannot_commit_a_stale_batch(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(services, 5)
    services.app.written_listeners.clear()  # writers killed before their catch-up: a backlog
    services.app.create_dataset("late")
    expected = [f"ds-{n:04d}" for n in range(5)] + ["late"]
    other = Services(Settings.from_env())
    try:
        held = HeldCatchUp(other, monkeypatch)  # read its position before the rebuild started ...
        holding_first_catch_up(monkeypatch, held.commit, lambda: None)  # ... commits once it has begun
        head = services.rebuild()
        assert sorted(d["name"] for d in queries.datasets(services.view)) == expected

        services.app.create_dataset("later")
        held = HeldCatchUp(other, monkeypatch)  # computed before the next rebuild ...
        monkeypatch.setattr(bootstrap, "catch_up", catchup.catch_up)
        services.rebuild()
        assert held.commit() == services.app.recorder.max_notification_id()  # ... committed after its switch
        head = services.app.recorder.max_notification_id()
        for view in (services.view, other.view):
            assert sorted(d["name"] for d in queries.datasets(view)) == [*expected, "later"]
        assert services.lag() == (head, head) and other.lag() == (head, head)
    finally:
        other.close()


def test_readers_keep_their_answers_while_a_rebuild_runs(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = fill(services, 700)  # ~2,100 events
    reader = Services(Settings.from_env())
    failures: list[str] = []
    rounds = [0]
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                listed = queries.datasets(reader.view)
                if len(listed) != len(ids):
                    failures.append(f"{len(listed)} datasets listed")
                for dataset_id in (ids[0], ids[len(ids) // 2], ids[-1]):
                    queries.dataset(reader.view, dataset_id)
                    if len(queries.draft_items(reader.view, dataset_id)) != 3:
                        failures.append(f"dataset {dataset_id} lost its items")
            except NotFound as exc:
                failures.append(str(exc))
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            rounds[0] += 1

    def rounds_more(n: int) -> Callable[[], None]:
        def wait() -> None:
            target = rounds[0] + n
            wait_until(lambda: rounds[0] >= target or failures, message="the reader stopped reading")

        return wait

    thread = threading.Thread(target=read)
    thread.start()
    try:
        holding_first_catch_up(monkeypatch, rounds_more(5), rounds_more(5))  # read before and after the build
        services.rebuild()
        rounds_more(5)()  # the reader notices the switch
    finally:
        stop.set()
        thread.join()
        reader.close()
    assert failures == []
    assert reader.view.generation == services.view.generation


def status() -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["projections", "status", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_a_rebuild_racing_writers_and_catch_ups_ends_equal_to_a_fresh_rebuild(
    services: Services, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = services.app
    experiment = app.create_experiment("exp", "", definition(world["dataset"], world["version"], world["good"]))
    execute(services, app.start_run(experiment.id).id)
    fill(services, 50)
    stop = threading.Event()
    errors: list[str] = []
    written = [0]

    def write() -> None:  # a writer: each command catches the view up (its own Services)
        with Services(Settings.from_env()) as writer:
            while not stop.is_set():
                ds = writer.app.create_dataset(f"during-{written[0]}")
                writer.app.add_items(ds.id, [{"input": {"w": written[0]}}])
                written[0] += 1

    def catch_up() -> None:  # another process catching up in small batches
        with Services(Settings.from_env()) as other:
            while not stop.is_set():
                try:
                    catchup.catch_up(other.app, other.view, batch=3)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=write), threading.Thread(target=catch_up), threading.Thread(target=catch_up)]
    for thread in threads:
        thread.start()
    try:

        def more_writes() -> None:  # the live view moves on while the new one is built: the switch must wait
            target = written[0] + 5
            wait_until(lambda: written[0] >= target, message="the writer stopped writing")

        holding_first_catch_up(monkeypatch, more_writes, more_writes)
        for _ in range(3):
            services.rebuild()
        more_writes()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    services.catch_up()
    raced = tables(services.view)
    assert len(raced["datasets"]) == 51 + written[0]
    assert status()["lag"] == 0
    services.rebuild()
    assert tables(services.view) == raced
    assert errors == []
