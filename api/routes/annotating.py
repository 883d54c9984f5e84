"""Human annotations on run items (both paths of the reference), and scorer-vs-human agreement."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas_rescores import Agreement, Annotation
from agnt5_evals.domain.errors import NotFound
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.projections import queries
from agnt5_evals.services import operations

router = Router(tags=["annotations"])


class AnnotationIn(BaseModel):
    name: str
    label: str | None = None
    score: float | None = None
    explanation: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


def _annotate(run_id: str, item_id: str, body: AnnotationIn, svc: ServicesDep) -> dict[str, Any]:
    rid, iid = str(parse_uuid(run_id, "run_id")), str(parse_uuid(item_id, "item_id"))
    return operations.annotate(svc, rid, iid, body.name, body.label, body.score, body.explanation, body.metadata)


@router.post("/eval/runs/{run_id}/items/{item_id}/annotations", status_code=201, response_model=Annotation)
def annotate(run_id: str, item_id: str, body: AnnotationIn, svc: ServicesDep) -> dict[str, Any]:
    """Record a human annotation on a run item (kept apart from scores)."""
    return _annotate(run_id, item_id, body, svc)


@router.post(
    "/experiments/{experiment_id}/runs/{run_id}/items/{item_id}/annotations", status_code=201, response_model=Annotation
)
def annotate_under_experiment(
    experiment_id: str, run_id: str, item_id: str, body: AnnotationIn, svc: ServicesDep
) -> dict[str, Any]:
    """The same, under the experiment (the older path of the reference)."""
    run = queries.run(svc.view, str(parse_uuid(run_id, "run_id")))
    if run["experiment_id"] != str(parse_uuid(experiment_id, "experiment_id")):
        raise NotFound(f"run {run_id} is not a run of experiment {experiment_id}")
    return _annotate(run_id, item_id, body, svc)


@router.get("/runs/{run_id}/annotations", response_model=list[Annotation])
def list_annotations(run_id: str, svc: ServicesDep, run_item_id: str = "", name: str = "") -> list[dict[str, Any]]:
    """A run's annotations, oldest first."""
    iid = str(parse_uuid(run_item_id, "run_item_id")) if run_item_id else ""
    return queries.run_annotations(svc.view, str(parse_uuid(run_id, "run_id")), iid, name)


@router.get("/runs/{run_id}/agreement", response_model=Agreement)
def agreement(run_id: str, svc: ServicesDep, name: str = "") -> dict[str, Any]:
    """Per scorer: agreement with the human verdicts (95% Wilson interval), Cohen's kappa, confusion counts."""
    return operations.agreement_report(svc, str(parse_uuid(run_id, "run_id")), name)
