"""Rules decided where the read model counts: a scorer's `failed` excludes its errored scores, and a running run's
pass rate is over the items done so far (both stores)."""

from __future__ import annotations

from agnt5_evals.adapters.components import discover
from agnt5_evals.domain.runs import Run, RunChunk
from agnt5_evals.domain.scoring import with_keys
from agnt5_evals.projections import queries
from agnt5_evals.services import operations
from tests.support import definition, execute

SCORERS = """
from agnt5_evals import scorer


@scorer('picky')
def picky(request):
    n = request['input']['order_id']
    if n in (3, 7):
        raise ValueError('boom')
    return {'score': 0.2 if n == 5 else 1.0}
"""


def test_a_scorers_failed_count_leaves_out_its_errored_scores(services, world, agent_dir):
    (agent_dir / "picky_scorers.py").write_text(SCORERS)
    app = services.app
    dep = app.create_deployment("ps", "picky_scorers", str(agent_dir), discover("picky_scorers", str(agent_dir)))
    picky = app.scorer_spec(app.create_scorer("picky", "", dep.id, "picky").id)
    spec = definition(world["dataset"], world["version"], world["good"], "json_valid")
    spec["scorers"] = with_keys([picky])
    run_id = app.start_run(app.create_experiment("e", "", spec).id).id
    assert execute(services, run_id, chunk_items=4) == "completed"
    services.catch_up()

    (scorer,) = operations.summary(services, str(run_id))["scorers"]
    assert (scorer["scorer"], scorer["passed"], scorer["failed"], scorer["errored"]) == ("picky", 7, 1, 2)
    assert scorer["pass_rate"] == 0.7
    assert sum(s["errored"] for s in queries.scores(services.view, run_id=str(run_id))) == 2


def record(chunk: RunChunk, run_id: str, position: int, status: str) -> None:
    chunk.record_item(run_id=run_id, run_item_id=f"i{position}", dataset_item_id=f"d{position}", position=position,
                      repetition=0, status=status, output=1, error=None, events=[], started_at="t", duration_ms=1.0,
                      scores=[], attempts=1, tokens=0)  # fmt: skip


def test_a_running_runs_pass_rate_is_over_the_items_done_so_far(services, world):
    app = services.app
    run_id = app.start_run(app.create_experiment("e", "", definition(world["dataset"], world["version"],
                                                                     world["good"])).id).id  # fmt: skip
    run = app.get(Run, run_id, "run")
    chunk = RunChunk(run_id=run_id, chunk_no=0, start=0)
    for position, status in enumerate(["passed", "passed", "passed", "failed"]):
        record(chunk, str(run_id), position, status)
    run.record_chunk(0, 0, 4, {"passed": 3, "failed": 1, "errored": 0}, "")
    app.save(run, chunk)
    services.catch_up()

    summary = operations.summary(services, str(run_id))
    assert (summary["status"], summary["total_items"], summary["done_items"]) == ("running", 10, 4)
    assert summary["pass_rate"] == 0.75
