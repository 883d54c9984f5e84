"""A bug of ours while an item is recorded (not the target's error, not a scorer's) costs that item, not the run:
the item is errored with it and the run completes (its thread used to end, and the run waited for the item
forever). Both stores."""

from __future__ import annotations

import threading

from agnt5_evals.projections import queries
from agnt5_evals.worker import dispatch
from tests.support import definition, execute

SECRET = "sk-live-internal-0042"


def test_an_internal_error_errors_its_item_and_the_run_completes(services, world, monkeypatch):
    monkeypatch.setenv("AGNT5_API_KEY", SECRET)
    real = dispatch.scrub_encoded

    def broken(record, *args):
        if record["position"] == 3:
            raise RuntimeError(f"a bug of ours, near {SECRET}")
        return real(record, *args)

    monkeypatch.setattr(dispatch, "scrub_encoded", broken)
    app = services.app
    spec = definition(world["dataset"], world["version"], world["good"], "exact_match")
    run_id = app.start_run(app.create_experiment("internal", "", spec).id).id
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(execute(services, run_id)), daemon=True)
    runner.start()
    runner.join(timeout=120)  # a generous deadline: the run used to wait for the item forever
    assert not runner.is_alive(), "the run hung on an item whose recording raised"
    assert outcome == ["completed"]

    services.catch_up()
    items = queries.run_items(services.view, str(run_id))
    assert len(items) == 10
    broken_item = next(item for item in items if item["position"] == 3)
    assert broken_item["status"] == "errored" and broken_item["scores"] == []
    assert broken_item["error"] == "InternalError: RuntimeError: a bug of ours, near [REDACTED]"
    assert [event["event_type"] for event in broken_item["events"]] == ["run.started", "run.failed"]
    assert all(item["status"] != "errored" for item in items if item["position"] != 3)
    assert SECRET not in str(items)
