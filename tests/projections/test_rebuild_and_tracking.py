"""The read model: rebuilt from the log it answers identically; each batch applies exactly once."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from agnt5_evals.projections import queries
from agnt5_evals.projections.catchup import position
from agnt5_evals.projections.handlers import INSERT_DATASET
from agnt5_evals.services import compare, operations
from tests.support import definition, execute


def answers(services, world, runs):
    view = services.view
    out = {
        "datasets": queries.datasets(view),
        "versions": queries.dataset_versions(view, str(world["dataset"])),
        "items": queries.version_items(view, str(world["version"])),
        "deployments": queries.deployments(view),
        "experiments": queries.experiments(view),
    }
    for run in runs:
        out[run] = {
            "summary": operations.summary(services, run),
            "items": queries.run_items(view, run),
            "scores": queries.scores(view, run_id=run),
        }
    out["compare"] = compare.compare_runs(services, runs[0], runs[1])
    return out


def test_rebuild_gives_identical_answers(services, world):
    app = services.app
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid",
                      '{"name":"tool_called","config":{"tool":"search_orders"}}')  # fmt: skip
    exp = app.create_experiment("e", "", spec)
    base = app.start_run(exp.id, "base")
    execute(services, base.id, chunk_items=4)
    cand = app.start_run(exp.id, "cand", deployment_id=world["bad"])
    execute(services, cand.id, chunk_items=4)
    services.catch_up()
    before = answers(services, world, [str(base.id), str(cand.id)])
    assert before["compare"]["newly_failing"]
    head = services.rebuild()
    assert head == app.recorder.max_notification_id()
    assert answers(services, world, [str(base.id), str(cand.id)]) == before


def test_a_stale_tracking_position_is_rejected_and_the_view_unchanged(services, world):
    services.catch_up()
    reached = position(services.app, services.view)
    rows = queries.datasets(services.view)
    stale_op = (INSERT_DATASET, ("x", "x", "", "{}", "2026-01-01"))
    with pytest.raises(IntegrityError):
        services.view.apply([stale_op], Tracking(services.app.name, reached))
    assert queries.datasets(services.view) == rows
    assert position(services.app, services.view) == reached


def test_catch_up_is_idempotent(services, world):
    first = services.catch_up()
    assert services.catch_up() == first
    assert len(queries.datasets(services.view)) == 1
