"""Projects isolate their resources on both stores: from one project, another project's datasets, deployments,
scorers, prompts, experiments, runs, items, scores, rescores and annotations are never listed, are not found by id
(with the message a missing one gets), and cannot be named by a new resource; the system scope sees them all."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.components import discover
from agnt5_evals.domain.errors import Conflict, NotFound
from agnt5_evals.domain.model import Dataset, DatasetVersion, Deployment, Experiment, ExperimentVersion, Scorer
from agnt5_evals.domain.prompts import Prompt, PromptVersion
from agnt5_evals.domain.rescores import Rescore
from agnt5_evals.domain.runs import Run
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, project_scope
from agnt5_evals.projections import queries
from agnt5_evals.services import audit, catalog, compare, datasets, operations, projects, runs, scores
from tests.support import definition, execute

SCORER_SOURCE = {"kind": "python", "module": "judges", "path": "/srv/judges", "url": "",
                 "components": [{"name": "judge", "type": "scorer"}]}  # fmt: skip
PROMPT = {"messages": [{"role": "user", "content": "Hi {{ name }}"}], "model": "m1"}


def _world(svc: Services, agent_dir: Path, tag: str) -> dict[str, Any]:
    """One project's resources: a dataset (published, and a draft item), deployments, a custom scorer, a prompt,
    an experiment with a completed run, an annotation and a rescore."""
    app = svc.app
    ds = app.create_dataset(f"orders-{tag}")
    app.add_items(ds.id, [{"input": {"order_id": n}, "expected_output": n} for n in range(1, 5)])
    version = app.publish(ds.id)
    app.add_items(ds.id, [{"id": "draft-1", "input": {"order_id": 9}}])
    good = app.create_deployment(f"good-{tag}", "good_agent", str(agent_dir), discover("good_agent", str(agent_dir)))
    judges = catalog.create_deployment(svc, f"judges-{tag}", SCORER_SOURCE)
    scorer = catalog.create_scorer(svc, f"judge-{tag}", "", UUID(judges["id"]), "judge")
    prompt = catalog.create_prompt(svc, f"greeter-{tag}", PROMPT)
    experiment = app.create_experiment(f"exp-{tag}", "", definition(ds.id, version.id, good.id, "json_valid"))
    run_id = app.start_run(experiment.id, f"run-{tag}").id
    execute(svc, run_id)
    svc.catch_up()
    items = queries.run_items(svc.view, str(run_id))
    annotation = operations.annotate(svc, str(run_id), items[0]["id"], "helpful", label="good")
    rescore = app.start_rescore(run_id, queries.run(svc.view, str(run_id))["spec"]["scorers"], [], len(items))
    svc.catch_up()
    experiment_version = UUID(queries.run(svc.view, str(run_id))["experiment_version_id"])
    return {
        "dataset": ds.id, "version": version.id, "deployment": good.id, "judges": UUID(judges["id"]),
        "scorer": UUID(scorer["id"]), "prompt": UUID(prompt["id"]), "prompt_version": UUID(prompt["version"]["id"]),
        "experiment": experiment.id, "experiment_version": experiment_version,
        "run": run_id, "item": items[0]["id"], "dataset_item": items[0]["dataset_item_id"],
        "score": items[0]["scores"][0]["id"], "annotation": annotation["id"], "rescore": rescore.id,
    }  # fmt: skip


@pytest.fixture
def two(services: Services, agent_dir: Path) -> dict[str, dict[str, Any]]:
    projects.create_project(services, "Team A", "team-a")
    projects.create_project(services, "Team B", "team-b")
    worlds = {}
    for project in ("team-a", "team-b"):
        with project_scope(project):
            worlds[project] = _world(services, agent_dir, project)
    return worlds


def test_projects_are_created_listed_and_shown(services: Services) -> None:
    created = projects.create_project(services, "Team A", "team-a")
    generated = projects.create_project(services, "Generated")
    assert (created["id"], created["name"]) == ("team-a", "Team A")
    assert UUID(generated["id"])
    assert [p["id"] for p in projects.list_projects(services)] == [DEFAULT_PROJECT, "team-a", generated["id"]]
    assert projects.get_project(services, DEFAULT_PROJECT)["id"] == DEFAULT_PROJECT
    with pytest.raises(NotFound, match="project nope not found"):
        projects.get_project(services, "nope")
    with pytest.raises(Conflict, match="already exists"):
        projects.create_project(services, "Again", "team-a")
    with pytest.raises(Conflict, match="already exists"):
        projects.create_project(services, "Default", DEFAULT_PROJECT)


def test_resources_are_created_only_in_an_existing_project(services: Services, agent_dir: Path) -> None:
    with project_scope("nope"):
        for create in (
            lambda: services.app.create_dataset("d"),
            lambda: catalog.create_deployment(services, "judges", SCORER_SOURCE),
            lambda: catalog.create_prompt(services, "p", PROMPT),
        ):
            with pytest.raises(NotFound, match="project nope not found") as caught:
                create()
            assert caught.value.field == "project_id"
    assert queries.datasets(services.view) == [] and queries.deployments(services.view) == []


def test_lists_show_only_the_projects_rows(services: Services, two: dict[str, dict[str, Any]]) -> None:
    view = services.view
    for project, world in two.items():
        with project_scope(project):
            assert [r["id"] for r in queries.datasets(view)] == [str(world["dataset"])]
            assert {r["id"] for r in queries.deployments(view, archived=True)} == {
                str(world["deployment"]), str(world["judges"])}  # fmt: skip
            assert [r["id"] for r in queries.scorers(view)] == [str(world["scorer"])]
            assert [r["id"] for r in queries.prompts(view)] == [str(world["prompt"])]
            assert [r["id"] for r in queries.experiments(view)] == [str(world["experiment"])]
            assert [r["id"] for r in operations.list_experiments(services, target_type="component")] == [
                str(world["experiment"])]  # fmt: skip
            assert {s["run_id"] for s in queries.scores(view)} == {str(world["run"])}
            assert {s["run_id"] for s in scores.list_scores(services)} == {str(world["run"])}
            assert "project_id" not in queries.datasets(view)[0]  # rows do not repeat the project
        with project_scope(DEFAULT_PROJECT):
            assert queries.datasets(view) == [] and queries.experiments(view) == []
    with project_scope(None):  # the system scope: every project's
        assert len(queries.datasets(view)) == 2 and len(queries.experiments(view)) == 2


def _lookups(svc: Services, w: dict[str, Any]) -> list[Any]:
    """Every read of one resource by id (or of a resource's children), through the queries and the services."""
    v, run = svc.view, str(w["run"])
    return [
        lambda: queries.dataset(v, str(w["dataset"])),
        lambda: queries.dataset_versions(v, str(w["dataset"])),
        lambda: queries.dataset_version(v, str(w["version"])),
        lambda: queries.version_items(v, str(w["version"])),
        lambda: queries.draft_items(v, str(w["dataset"])),
        lambda: queries.dataset_item(v, str(w["version"]), w["dataset_item"]),
        lambda: queries.deployment(v, str(w["deployment"])),
        lambda: queries.experiment(v, str(w["experiment"])),
        lambda: queries.experiment_versions(v, str(w["experiment"])),
        lambda: queries.experiment_version(v, str(w["experiment_version"])),
        lambda: queries.runs(v, str(w["experiment"])),
        lambda: queries.run(v, run),
        lambda: queries.run_scorers(v, run),
        lambda: queries.run_items(v, run),
        lambda: queries.run_items(v, run, ("failed",)),
        lambda: queries.run_item_outcomes(v, run),
        lambda: queries.run_item_errors(v, run),
        lambda: queries.run_item(v, w["item"]),
        lambda: queries.run_stats(v, run),
        lambda: queries.scores(v, run_id=run),
        lambda: queries.score(v, w["score"]),
        lambda: queries.run_annotations(v, run),
        lambda: queries.rescores(v, run),
        lambda: queries.rescore(v, str(w["rescore"])),
        lambda: queries.rescore_flips(v, str(w["rescore"])),
        lambda: queries.rescore_scorers(v, str(w["rescore"])),
        lambda: queries.prompt(v, str(w["prompt"])),
        lambda: queries.prompt_versions(v, str(w["prompt"])),
        lambda: queries.prompt_version(v, str(w["prompt_version"])),
        lambda: operations.summary(svc, run),
        lambda: operations.rescore_summary(svc, str(w["rescore"])),
        lambda: operations.score_evidence(svc, w["score"], "scorer_input,evidence"),
        lambda: operations.agreement_report(svc, run, "helpful"),
        lambda: runs.failures(svc, run),
        lambda: scores.list_scores(svc, run_id=run),
        lambda: scores.list_scores(svc, rescore_id=str(w["rescore"])),
        lambda: datasets.export_items(svc, w["dataset"], w["version"]),
        lambda: datasets.compare(svc, w["dataset"], w["version"], w["version"]),
        lambda: datasets.examples(svc, w["dataset"]),
        lambda: datasets.examples(svc, w["dataset"], draft=True),
        lambda: catalog.deployment_detail(svc, w["deployment"]),
        lambda: catalog.scorer_spec(svc, w["scorer"]),
        lambda: list(audit.events(svc, audit.AuditFilter(run_id=w["run"]))),
        lambda: list(audit.events(svc, audit.AuditFilter(experiment_id=w["experiment"]))),
        lambda: list(audit.events(svc, audit.AuditFilter(dataset_id=w["dataset"]))),
    ]


def test_every_lookup_of_another_projects_resource_is_not_found(
    services: Services, two: dict[str, dict[str, Any]]
) -> None:
    with project_scope("team-a"):
        for read in _lookups(services, two["team-a"]):
            read()  # the project's own: found
        for n, read in enumerate(_lookups(services, two["team-b"])):
            with pytest.raises(NotFound):
                read()
                pytest.fail(f"lookup {n} found another project's resource")
        with pytest.raises(NotFound):
            compare.compare_runs(services, str(two["team-a"]["run"]), str(two["team-b"]["run"]))
    with project_scope(None):
        for read in _lookups(services, two["team-b"]):
            read()


AGGREGATES = [("dataset", Dataset), ("version", DatasetVersion), ("deployment", Deployment), ("scorer", Scorer),
              ("prompt", Prompt), ("prompt_version", PromptVersion), ("experiment", Experiment),
              ("experiment_version", ExperimentVersion), ("run", Run), ("rescore", Rescore)]  # fmt: skip


def test_loading_another_projects_aggregate_is_not_found_like_a_missing_one(
    services: Services, two: dict[str, dict[str, Any]]
) -> None:
    with project_scope("team-a"):
        for key, cls in AGGREGATES:
            assert services.app.get(cls, two["team-a"][key], key).project_id == "team-a"
            with pytest.raises(NotFound) as other:
                services.app.get(cls, two["team-b"][key], key)
            unknown = uuid4()
            with pytest.raises(NotFound) as missing:
                services.app.get(cls, unknown, key)
            assert other.value.message == f"{key} {two['team-b'][key]} not found"
            assert missing.value.message == f"{key} {unknown} not found"


def test_new_resources_cannot_name_another_projects_resources(
    services: Services, two: dict[str, dict[str, Any]]
) -> None:
    a, b, app = two["team-a"], two["team-b"], services.app
    custom = {"type": "custom", "key": "judge", "name": "judge", "scorer_id": str(b["scorer"]),
              "deployment_id": str(b["judges"]), "component_name": "judge", "config": {}}  # fmt: skip
    prompt_target = {"type": "prompt", "prompt_id": str(b["prompt"])}
    with project_scope("team-a"):
        refused = [
            lambda: app.create_experiment("x", "", definition(b["dataset"], b["version"], a["deployment"])),
            lambda: app.create_experiment("x", "", definition(a["dataset"], b["version"], a["deployment"])),
            lambda: app.create_experiment("x", "", definition(a["dataset"], a["version"], b["deployment"])),
            lambda: app.create_experiment(
                "x", "", {**definition(a["dataset"], a["version"], a["deployment"]), "target": prompt_target}
            ),
            lambda: app.create_experiment(
                "x", "", {**definition(a["dataset"], a["version"], a["deployment"]), "scorers": [custom]}
            ),
            lambda: app.update_experiment(a["experiment"], {"dataset_version_id": str(b["version"])}),
            lambda: app.update_experiment(b["experiment"], {"name": "mine"}),
            lambda: app.start_run(b["experiment"]),
            lambda: app.start_run(a["experiment"], deployment_id=b["deployment"]),
            lambda: app.start_run(a["experiment"], experiment_version_id=b["experiment_version"]),
            lambda: app.rerun_run(b["run"]),
            lambda: app.cancel_run(b["run"]),
            lambda: app.annotate(b["run"], b["item"], "helpful", label="good"),
            lambda: app.start_rescore(b["run"], [{"type": "builtin", "name": "json_valid"}], [], 4),
            lambda: app.start_rescore(a["run"], [custom], [], 4),
            lambda: app.cancel_rescore(b["rescore"]),
            lambda: app.create_scorer("judge2", "", b["judges"], "judge"),
            lambda: app.restore_draft(a["dataset"], b["version"]),
            lambda: app.add_items(b["dataset"], [{"input": 1}]),
            lambda: app.publish(b["dataset"]),
            lambda: app.archive_deployment(b["deployment"]),
            lambda: app.create_prompt_version(b["prompt"], PROMPT),
            lambda: datasets.add_run(services, a["dataset"], b["run"], []),
            lambda: operations.regression_dataset(services, str(b["run"]), "regress", []),
        ]
        for n, attempt in enumerate(refused):
            with pytest.raises(NotFound):
                attempt()
                pytest.fail(f"attempt {n} named another project's resource")


def test_the_system_scope_keeps_references_within_the_project_they_create_in(
    services: Services, two: dict[str, dict[str, Any]]
) -> None:
    """A worker or a maintenance command acts in no project: what it creates is default's, and may not name
    another project's resources either."""
    b = two["team-b"]
    with project_scope(None), pytest.raises(NotFound):
        services.app.create_experiment("x", "", definition(b["dataset"], b["version"], b["deployment"]))
    with project_scope(None):  # a run of team-b's experiment is team-b's
        run_id = services.app.start_run(b["experiment"], "from-the-system").id
        assert services.app.get(Run, run_id, "run").project_id == "team-b"
        captured = operations.regression_dataset(services, str(b["run"]), "regress", [b["item"]])
        assert services.app.get(Dataset, UUID(captured["dataset_id"]), "dataset").project_id == "team-b"
        assert services.app.get(Experiment, UUID(captured["experiment_id"]), "experiment").project_id == "team-b"


def test_audit_events_of_a_project_hold_only_its_events(services: Services, two: dict[str, dict[str, Any]]) -> None:
    with project_scope(None):
        everything = list(audit.events(services, audit.AuditFilter()))
    with project_scope("team-a"):
        mine = list(audit.events(services, audit.AuditFilter()))
        later = list(audit.events(services, audit.AuditFilter(after=mine[len(mine) // 2]["position"])))
    theirs = {str(value) for value in two["team-b"].values()}
    assert mine and len(mine) < len(everything)
    assert not [e for e in mine if e["originator_id"] in theirs]
    assert not [e for e in mine if str(e["payload"].get("run_id")) in theirs]
    assert {e["originator_id"] for e in mine} >= {str(two["team-a"][k]) for k in ("dataset", "run", "experiment")}
    assert not [e for e in mine if ":Bundle" in e["topic"]]
    assert [e["position"] for e in later] == [e["position"] for e in mine[len(mine) // 2 + 1 :]]


def test_a_worker_executes_a_run_of_another_project_end_to_end(services: Services, agent_dir: Path) -> None:
    """The run starts in a project's scope; its worker (a process of its own, in the system scope) executes it."""
    projects.create_project(services, "Team C", "team-c")
    with project_scope("team-c"):
        app = services.app
        ds = app.create_dataset("orders")
        app.add_items(ds.id, [{"input": {"order_id": n}, "expected_output": n} for n in range(1, 4)])
        version = app.publish(ds.id)
        good = app.create_deployment("good", "good_agent", str(agent_dir), discover("good_agent", str(agent_dir)))
        experiment = app.create_experiment("exp", "", definition(ds.id, version.id, good.id, "json_valid"))
        started = operations.start_run(services, experiment.id, "in-team-c")
        summary = operations.wait_for_run(services, started["id"], timeout=120)
        assert summary is not None and summary["status"] == "completed", summary
        assert summary["total_items"] == 3 and summary["done_items"] == 3
    with project_scope(DEFAULT_PROJECT), pytest.raises(NotFound):
        operations.summary(services, started["id"])
