"""A rebuild's first pass loads rows without indexes, vectors or statistics and builds them once at its end: the view
it switches to is row for row the one catch-ups built event by event, and a rebuild stopped midway leaves the old
view in service."""

from __future__ import annotations

from typing import Any

import pytest

from agnt5_evals.adapters import bootstrap
from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.projections import catchup
from agnt5_evals.projections.schema import INDEXES, TABLES, VIEW_NAME
from agnt5_evals.projections.views import EvalsView
from agnt5_evals.worker.rescore import RescoreExecutor
from tests.application.test_rescore_aggregates import frac_experiment
from tests.support import execute


def rows(view: EvalsView) -> dict[str, list[str]]:
    """Every row of every table of the live generation, in a stable order (a vector's bytes included)."""
    out = {}
    for name in TABLES:
        found = view.query(f"SELECT * FROM {{p}}{name}", binary=name.endswith("_vectors"))
        out[name] = sorted(repr(sorted((k, bytes(v) if isinstance(v, memoryview) else v) for k, v in row.items()))
                           for row in found)  # fmt: skip
    return out


def history(services: Services, world: dict[str, Any], agent_dir: Any) -> None:
    """Runs that ended, one rescored, one still running; a dataset edited after its first version."""
    app = services.app
    experiment, zero = frac_experiment(services, world, agent_dir)
    done = [app.start_run(experiment).id for _ in range(2)]
    for run_id in done:
        assert execute(services, run_id, chunk_items=3) == "completed"
    written = app.start_rescore(done[1], [{**zero, "key": "frac"}], [], 10, replace_latest=True)
    assert RescoreExecutor(services, written.id).execute() == "completed"
    app.start_run(experiment)  # never executed: running, without a vector
    ds = app.create_dataset("edited")
    app.add_items(ds.id, [{"input": {"n": n}, "expected_output": n} for n in range(6)])
    app.publish(ds.id)
    app.add_items(ds.id, [{"input": {"n": 99}}])
    app.publish(ds.id)
    services.catch_up()


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
    assert len(live["run_vectors"]) == 2 and len(live["version_vectors"]) == 3 and live["rescore_items"]
    services.rebuild()
    assert services.view.generation > 0
    assert index_count(services.view) == len(INDEXES)
    assert rows(services.view) == live


def test_a_rebuild_stopped_midway_leaves_the_old_view_in_service(services, world, agent_dir, monkeypatch):
    history(services, world, agent_dir)
    live, generation = rows(services.view), services.view.generation
    real = bootstrap.catch_up

    def killed(app: Any, view: EvalsView, batch: int = catchup.BATCH) -> int:
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
        return real(app, view, batch=batch)

    monkeypatch.setattr(bootstrap, "catch_up", killed)
    with pytest.raises(KeyboardInterrupt):
        services.rebuild()
    assert services.view.refresh() == generation
    assert rows(services.view) == live
    monkeypatch.setattr(bootstrap, "catch_up", real)
    services.rebuild()  # the next rebuild switches past the abandoned generation
    assert services.view.generation > generation + 1
    assert rows(services.view) == live
