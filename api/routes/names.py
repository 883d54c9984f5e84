"""References by name: the id a name (or a version's number) stands for in the project."""

from __future__ import annotations

from typing import Any

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas import Schema, examples
from agnt5_evals.projections import names

router = Router(tags=["names"])


class Resolved(Schema):
    """What a reference stands for: the id of the one resource of that kind it names."""

    model_config = examples({"kind": "dataset", "ref": "orders", "id": "5f0c1c1e-8a52-4e52-9a3b-3c1d0e6f7a10"})
    kind: str
    ref: str
    id: str


@router.get("/resolve", response_model=Resolved)
def resolve(kind: str, ref: str, svc: ServicesDep, parent: str = "") -> dict[str, Any]:
    """The id of the one ``kind`` named ``ref`` in this project (a version: number ``ref`` under ``parent``).

    A UUID is an id and answers itself. No such name: 404; several: 422, the message listing each one's id and
    created_at (a run's: its experiment too). Kinds: dataset, experiment, deployment, scorer, prompt, run,
    dataset_version, experiment_version, prompt_version."""
    return {"kind": kind, "ref": ref, "id": names.resolve(svc.view, kind, ref, "ref", parent)}
