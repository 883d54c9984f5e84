"""A scorer marked ``cpu_bound`` runs in the worker's process pool, on both stores, with the same results."""

from __future__ import annotations

import os
import textwrap

from agnt5_evals.adapters.components import discover
from agnt5_evals.domain.model import Scorer
from agnt5_evals.projections import queries
from tests.support import definition, execute

SCORERS = """
import os
from agnt5_evals import scorer


@scorer("heavy", cpu_bound=True)
def heavy(request):
    total = sum(i * i for i in range(20_000))  # some work in Python
    same = request["output"] == request["input"]  # the echo component answers its input
    return {"score": 1.0 if same else 0.0, "metadata": {"pid": os.getpid(), "total": total}}


@scorer("light")
def light(request):
    return {"score": 1.0, "metadata": {"pid": os.getpid()}}
"""


def test_a_cpu_bound_scorer_runs_in_another_process(services, world, agent_dir):
    (agent_dir / "heavy_scorers.py").write_text(textwrap.dedent(SCORERS))
    app = services.app
    dep = app.create_deployment("s", "heavy_scorers", str(agent_dir), discover("heavy_scorers", str(agent_dir)))
    scorers = [app.get(Scorer, app.create_scorer(n, "", dep.id, n).id, "scorer").spec() for n in ("heavy", "light")]
    spec = definition(world["dataset"], world["version"], world["good"])
    spec["scorers"] = [{**s, "key": s["name"]} for s in scorers]
    spec["target"].update(component_name="echo", component_type="function")
    exp = app.create_experiment("cpu", "", spec)
    run = app.start_run(exp.id)
    assert execute(services, run.id) == "completed"

    services.catch_up()
    rows = queries.run_items(services.view, str(run.id))
    by_key = [{s["scorer_key"]: s for s in row["scores"]} for row in rows]
    assert len(by_key) == 10
    heavy_pids = {s["heavy"]["metadata"]["pid"] for s in by_key}
    assert os.getpid() not in heavy_pids  # the process pool, not this process
    assert {s["light"]["metadata"]["pid"] for s in by_key} == {os.getpid()}  # a plain scorer: a thread here
    assert all(s["heavy"]["score"] == 1.0 and s["heavy"]["metadata"]["total"] == 2666466670000 for s in by_key)
