"""Experiments: the list, the create form, and an experiment's page (its runs, the trend, the flaky items).

The form calls ``services.experiments.create_experiment`` with what ``POST /experiments`` would build from the
same values, so a refusal has the API's message and field; starting a run is ``services.operations.start_run``
(as ``POST /experiments/{id}/runs``); the flaky panel is ``services.compare.flaky`` (``GET .../flaky``), loaded
by htmx after the page, since it reads every item of the last N runs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.api.deps import get_services
from agnt5_evals.api.studio import charts
from agnt5_evals.api.studio.session import SessionDep
from agnt5_evals.api.studio.web import PREFIX, STATUS, page, redirect
from agnt5_evals.api.studio.web import router as studio_router
from agnt5_evals.domain import jsonio
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.reports import run_summary
from agnt5_evals.domain.scoring import BUILTINS
from agnt5_evals.projections import queries
from agnt5_evals.projections import studio_experiments as studio_q
from agnt5_evals.services import compare, experiments, operations
from agnt5_evals.services.definitions import TARGET_TYPES, target_from
from agnt5_evals.services.pairs import comparable

router = studio_router()

PAGE_SIZE = 50
MAX_OFFSET = 100_000
RUNS_SHOWN = 200  # an experiment's page shows (and charts) its newest runs
FLAKY_CHOICES = (2, 3, 5, 10, 20)
FLAKY_SHOWN = 50
FLAKY_DEFAULT = 5
FLAKY_AUTO_ITEMS = 50_000  # runs of different dataset versions are read item by item: above this many, on a click
COMPONENT_TYPES = ("function", "agent", "workflow", "tool")
FIELDS = ("name", "description", "dataset_id", "dataset_version_id", "target_type", "deployment_id",
          "component_name", "component_type", "prompt_id", "prompt_version_id", "scorer_specs", "repetitions",
          "concurrency", "config")  # fmt: skip


# -- the list ------------------------------------------------------------------------------------------------


@router.get("/experiments")
def experiment_list(
    request: Request,
    session: SessionDep,
    q: str = Query("", max_length=200),
    page_number: int = Query(1, alias="page", ge=1, le=MAX_OFFSET // PAGE_SIZE),
) -> Response:
    """The project's experiments, newest first, with their latest run; ``q`` searches names and descriptions."""
    view = get_services(request).view
    rows = studio_q.experiment_page(view, q.strip(), PAGE_SIZE + 1, (page_number - 1) * PAGE_SIZE)
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    latest = studio_q.latest_runs(view, [row["id"] for row in rows])
    per_scorer = studio_q.scorer_rows(view, [run["id"] for run in latest.values()])  # per-scorer gate rules
    targets = _target_names(view, rows)
    shown = []
    for row in rows:
        run = latest.get(row["id"])
        shown.append({
            **row,
            "target": targets.get(row["id"], ""),
            "scorers": [s.get("key") or s.get("name") for s in row["definition"].get("scorers", [])],
            "latest": run_summary(run, per_scorer[run["id"]]) if run else None,
        })  # fmt: skip
    params = {"q": q.strip()}
    return page(request, "experiments/list.html.j2", nav="experiments", experiments=shown, q=q.strip(),
                page_number=page_number, more=more, params=params)  # fmt: skip


def _target_names(view: Any, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Each experiment's target as text (``deployment / component``, ``prompt name``), by experiment id: one
    query per kind of name."""
    targets = {row["id"]: row["definition"].get("target", {}) for row in rows}
    deployments = studio_q.names(
        view, "deployments", sorted({str(t.get("deployment_id")) for t in targets.values() if t.get("deployment_id")})
    )
    prompts = studio_q.names(view, "prompts", sorted({str(t.get("prompt_id")) for t in targets.values()
                                                      if t.get("prompt_id")}))  # fmt: skip
    out = {}
    for eid, target in targets.items():
        if target.get("type") == "prompt":
            out[eid] = f"prompt {prompts.get(str(target.get('prompt_id')), str(target.get('prompt_id'))[:8])}"
        else:
            deployment = deployments.get(str(target.get("deployment_id")), str(target.get("deployment_id"))[:8])
            out[eid] = f"{deployment} / {target.get('component_name')}"
    return out


# -- the create form ----------------------------------------------------------------------------------------


def _values(source: FormData | QueryParams | None) -> dict[str, Any]:
    """The form's values (kept as typed) from a submitted form or the query of a refresh."""

    def get(key: str) -> str:
        return str(source.get(key) or "") if source is not None else ""

    values: dict[str, Any] = {key: get(key) for key in FIELDS}
    values["target_type"] = values["target_type"] or "component"
    values["scorers"] = [str(v) for v in source.getlist("scorers")] if source is not None else []
    values["scorer_ids"] = [str(v) for v in source.getlist("scorer_ids")] if source is not None else []
    values["scorer_config"] = {name: get(f"scorer_config.{name}") for name in BUILTINS}
    return values


def _choices(svc: Services, values: dict[str, Any]) -> dict[str, Any]:
    """What the selects offer: datasets and their published versions, deployments and their components, prompts
    and their versions, the built-in and custom scorers. A few queries, whatever the project holds."""
    view = svc.view
    datasets = queries.datasets(view)
    versions = studio_q.project_versions(view)
    deployments = queries.deployments(view)
    prompts = queries.prompts(view)
    prompt_versions = studio_q.project_prompt_versions(view)
    chosen = next((d for d in deployments if d["id"] == values["deployment_id"]), None)
    builtins = sorted(BUILTINS.values(), key=lambda s: (s.kind, s.name))
    return {
        "datasets": [{**d, "versions": [v for v in versions if v["dataset_id"] == d["id"]]} for d in datasets],
        "deployments": deployments,
        "components": [(d, c) for d in ([chosen] if chosen else deployments) for c in d["components"]],
        "prompts": [{**p, "versions": [v for v in prompt_versions if v["prompt_id"] == p["id"]]} for p in prompts],
        "builtins": builtins,
        "custom_scorers": queries.scorers(view),
        "target_types": TARGET_TYPES,
        "component_types": COMPONENT_TYPES,
    }


def _form(request: Request, svc: Services, values: dict[str, Any], error: dict[str, Any] | None = None,
          status: int = 200) -> Response:  # fmt: skip
    return page(request, "experiments/new.html.j2", status, nav="experiments", values=values, error=error,
                error_at=_input_of(error), **_choices(svc, values))  # fmt: skip


def _input_of(error: dict[str, Any] | None) -> str:
    """The form input an error's field names (``target.component_name`` is the component input ...)."""
    field = str((error or {}).get("field") or "")
    if field.startswith("target."):
        field = field.removeprefix("target.")
        return "target_type" if field == "type" else field
    if field in ("config.repetitions", "config.concurrency"):
        return field.removeprefix("config.")
    if field.startswith(("config", "gate_config")):
        return "config"
    if field.startswith("scorers"):
        return "scorers"
    return field


@router.get("/experiments/new")
def new_experiment(request: Request, session: SessionDep) -> Response:
    """The create form; its query fills it (a change of dataset, deployment or target type asks again, so the
    version and component selects offer those of the chosen one)."""
    svc = get_services(request)
    values = _values(request.query_params if request.query_params else None)
    return _form(request, svc, values)


@router.post("/experiments")
async def create_experiment(request: Request, session: SessionDep) -> Response:
    """Create the experiment from the form, through the service ``POST /experiments`` calls; a refusal shows the
    form again with the values as typed and the service's message (422, 409 or 404)."""
    svc = get_services(request)
    values = _values(await request.form())
    try:
        row = await run_in_threadpool(_create, svc, values)
    except (Invalid, Conflict, NotFound) as exc:
        status = next(code for cls, code in STATUS.items() if isinstance(exc, cls))
        return await run_in_threadpool(_form, request, svc, values, exc.as_dict(), status)
    return redirect(request, f"{PREFIX}/experiments/{row['id']}")


def _int_or_text(text: str) -> Any:
    """A number field's value for the config: an integer when it is one, else the text (the service names it)."""
    return int(text) if re.fullmatch(r"[+-]?\d{1,12}", text.strip()) else text


def _create(svc: Services, values: dict[str, Any]) -> dict[str, Any]:
    """What ``POST /experiments`` does with the same values (``api.routes.experiments.create_experiment``)."""
    target_type = values["target_type"]
    component_type = values["component_type"] or _discovered_type(svc, values)
    target = target_from(target_type, values["deployment_id"] or None, values["component_name"] or None,
                         component_type or None, values["prompt_id"] or None,
                         values["prompt_version_id"] or None)  # fmt: skip
    builtin: list[str] = []
    for name in values["scorers"]:
        raw = values["scorer_config"].get(name, "").strip()
        if raw:
            parsed = jsonio.loads(raw, f"scorers.{name}.config")
            builtin.append(json.dumps({"name": name, "config": parsed}))
        else:
            builtin.append(name)
    builtin += [line.strip() for line in values["scorer_specs"].splitlines() if line.strip()]
    config: Any = jsonio.loads(values["config"], "config") if values["config"].strip() else {}
    if not isinstance(config, dict):
        raise Invalid("must be a JSON object, for example '{\"passed_threshold\": 1}'", field="config")
    for key in ("repetitions", "concurrency"):
        if values[key].strip():
            config[key] = _int_or_text(values[key])
    dataset = parse_uuid(values["dataset_id"], "dataset_id")
    version = parse_uuid(values["dataset_version_id"], "dataset_version_id")
    row: dict[str, Any] = experiments.create_experiment(
        svc, values["name"], values["description"], dataset, version, target, builtin, values["scorer_ids"], config
    )
    return row


def _discovered_type(svc: Services, values: dict[str, Any]) -> str:
    """The type the chosen deployment discovered for the chosen component ("" when unknown: the service says
    the type is required)."""
    if values["target_type"] == "prompt" or not values["deployment_id"] or not values["component_name"]:
        return ""
    try:
        row = queries.deployment(svc.view, str(parse_uuid(values["deployment_id"], "deployment_id")))
    except (Invalid, NotFound):
        return ""
    found = [c for c in row["components"] if c.get("name") == values["component_name"]]
    return str(found[0].get("type") or "") if len(found) == 1 else ""


# -- an experiment ------------------------------------------------------------------------------------------


@router.get("/experiments/{experiment_id}")
def experiment_page(request: Request, session: SessionDep, experiment_id: str) -> Response:
    """The definition, the start button, the runs (newest first) with their trend, and the flaky panel (htmx)."""
    svc = get_services(request)
    eid = str(parse_uuid(experiment_id, "experiment_id"))
    row = queries.experiment(svc.view, eid)
    runs, n_runs = studio_q.recent_runs(svc.view, eid, RUNS_SHOWN)
    per_scorer = studio_q.scorer_rows(svc.view, [run["id"] for run in runs])
    summaries = [run_summary(run, per_scorer[run["id"]]) for run in runs]
    points = [
        charts.Point(
            label=s["name"] or s["id"][:8],
            value=s["pass_rate"],
            kind={True: "pass", False: "fail"}.get(s["gate"]["passed"], ""),
            href=f"{PREFIX}/runs/{s['id']}",
            title=_point_title(s),
        )
        for s in summaries
    ]
    trend = charts.line(points, f"pass rate of the last {len(points)} runs") if points else None
    completed = [run for run in runs if run["status"] == "completed"][-FLAKY_DEFAULT:]
    flaky_reads = sum(int(run["total"]) for run in completed)
    # runs of one dataset version are read from their vectors (services.pairs): at any size, the panel loads itself
    flaky_auto = flaky_reads <= FLAKY_AUTO_ITEMS or all(comparable(completed[0], run) for run in completed)
    definition = row["definition"]
    target = definition.get("target", {})
    view = svc.view
    version = studio_q.version_number(view, definition["dataset_version_id"])
    names = {
        **studio_q.names(view, "datasets", [definition["dataset_id"]]),
        **studio_q.names(view, "deployments", [str(target.get("deployment_id") or "")]),
        **studio_q.names(view, "prompts", [str(target.get("prompt_id") or "")]),
    }
    candidates = [d for d in queries.deployments(view) if str(d["id"]) != str(target.get("deployment_id") or "")]
    return page(request, "experiments/show.html.j2", nav="experiments", experiment=row, definition=definition,
                target=target, names=names, version=version, runs=summaries[::-1], n_runs=n_runs, trend=trend,
                candidates=candidates if target.get("deployment_id") else [],
                has_baseline="baseline" in json.dumps(definition.get("config", {})), flaky_last=FLAKY_DEFAULT,
                flaky_reads=flaky_reads, flaky_auto=flaky_auto)  # fmt: skip


def _point_title(s: dict[str, Any]) -> str:
    rate = "-" if s["pass_rate"] is None else f"{s['pass_rate'] * 100:.1f}%"
    gate = {True: "gate passed", False: "gate failed"}.get(s["gate"]["passed"], "no verdict")
    return f"{s['name'] or s['id'][:8]}: {rate}, {s['status']}, {gate}"


@router.post("/experiments/{experiment_id}/runs")
async def start_run(request: Request, session: SessionDep, experiment_id: str) -> Response:
    """Start a run in a worker process (as ``POST /experiments/{id}/runs``; ``deployment_id``: against that
    candidate deployment, as ``experiments run --deployment-id``) and go to its page."""
    svc = get_services(request)
    form = await request.form()
    name = str(form.get("name") or "")
    eid = parse_uuid(experiment_id, "experiment_id")
    chosen = str(form.get("deployment_id") or "").strip()
    deployment = parse_uuid(chosen, "deployment_id") if chosen else None
    started = await run_in_threadpool(operations.start_run, svc, eid, name, deployment)
    return redirect(request, f"{PREFIX}/runs/{started['id']}")


@router.get("/experiments/{experiment_id}/flaky")
def flaky_panel(
    request: Request,
    session: SessionDep,
    experiment_id: str,
    last: int = Query(FLAKY_DEFAULT, ge=2, le=compare.MAX_LAST),
) -> Response:
    """The flaky panel (a fragment): the items whose verdict changed across the last ``last`` completed runs,
    each with its history, linked to its item in the newest of those runs."""
    svc = get_services(request)
    eid = str(parse_uuid(experiment_id, "experiment_id"))
    result, total = compare.flaky_page(svc, eid, last, FLAKY_SHOWN)
    items = result["items"]
    newest = result["runs"][-1] if result["runs"] else None
    links = studio_q.first_run_items(svc.view, newest["id"], [i["dataset_item_id"] for i in items]) if newest else {}
    return page(request, "experiments/flaky.html.j2", experiment_id=eid, result=result, items=items,
                total=total, newest=newest, links=links, last=last,
                choices=sorted({*FLAKY_CHOICES, last}))  # fmt: skip
