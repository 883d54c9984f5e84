"""Per-scorer aggregates stay exact through replacing rescores, catch-up and rebuild (integer sums)."""

from __future__ import annotations

from agnt5_evals.adapters.components import discover
from agnt5_evals.domain.scoring import with_keys
from agnt5_evals.projections import queries
from agnt5_evals.services import operations
from agnt5_evals.worker.rescore import RescoreExecutor
from tests.support import definition, execute

SCORERS = """
from agnt5_evals import scorer


@scorer('frac')
def frac(request):
    n = request['input']['order_id']
    if n == 3:
        raise ValueError('boom')
    return {'score': [0.1, 0.2, 0.3, 0.7, 0.6, 0.9, 0.05][n % 7]}


@scorer('zero')
def zero(request):
    return {'score': 0.0}
"""


def aggregates(services, run_id):
    services.catch_up()
    return [(r["scorer_key"], r["n"], r["sum_score_e9"], r["n_passed"], r["n_failed"], r["n_errored"])
            for r in queries.run_scorers(services.view, str(run_id))]  # fmt: skip


def frac_experiment(services, world, agent_dir):
    """An experiment scored by ``frac`` (fractional scores, one item errored), and the ``zero`` scorer's spec."""
    (agent_dir / "frac_scorers.py").write_text(SCORERS)
    app = services.app
    dep = app.create_deployment("fs", "frac_scorers", str(agent_dir), discover("frac_scorers", str(agent_dir)))
    frac = app.scorer_spec(app.create_scorer("frac", "", dep.id, "frac").id)
    zero = app.scorer_spec(app.create_scorer("zero", "", dep.id, "zero").id)
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid")
    spec["scorers"] = with_keys([frac])
    return app.create_experiment("e", "", spec).id, zero


def test_replacing_fractional_scores_with_zero_leaves_exactly_zero_before_and_after_rebuild(services, world, agent_dir):
    experiment_id, zero = frac_experiment(services, world, agent_dir)
    app = services.app
    run_id = app.start_run(experiment_id).id
    assert execute(services, run_id, chunk_items=3) == "completed"
    before = aggregates(services, run_id)
    assert before[0][1] == 10 and before[0][5] == 1  # one item's scorer raised: errored

    written = app.start_rescore(run_id, [{**zero, "key": "frac"}], [], 10, replace_latest=True)
    assert RescoreExecutor(services, written.id).execute() == "completed"
    incremental = aggregates(services, run_id)
    assert incremental == [("frac", 10, 0, 0, 10, 0)]
    services.rebuild()
    assert aggregates(services, run_id) == incremental
    scorer = next(s for s in operations.summary(services, str(run_id))["scorers"] if s["scorer"] == "frac")
    assert scorer["mean_score"] == 0.0


def test_a_replacing_rescore_retried_with_its_key_while_the_first_is_saved_returns_the_first(
    services, world, monkeypatch
):
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid")
    run_id = services.app.start_run(services.app.create_experiment("e", "", spec).id).id
    assert execute(services, run_id) == "completed"
    json_valid = {"type": "builtin", "name": "json_valid", "config": {}, "key": "json_valid"}
    app = services.app
    first = app.start_rescore(run_id, [json_valid], [], 10, replace_latest=True, idempotency_key="k")
    real, calls = type(app)._existing, []

    def checked_before_the_first_saved(self, run, key):  # the retry looked before the first request's save
        calls.append(key)
        return None if len(calls) == 1 else real(self, run, key)

    monkeypatch.setattr(type(app), "_existing", checked_before_the_first_saved)
    again = app.start_rescore(run_id, [json_valid], [], 10, replace_latest=True, idempotency_key="k")
    assert again.id == first.id and len(calls) == 2
