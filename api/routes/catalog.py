"""Deployments, scorers and prompts: what experiments are made of."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas_catalog import (
    CustomScorer,
    Deployment,
    Prompt,
    PromptCreated,
    ScorerCatalog,
)
from agnt5_evals.api.schemas_catalog import (
    PromptVersion as PromptVersionBody,
)
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.scoring import BUILTINS
from agnt5_evals.projections import queries
from agnt5_evals.services import catalog
from agnt5_evals.services.definitions import deployment_source

router = Router(tags=["catalog"])


class DeploymentIn(BaseModel):
    name: str
    module: str = ""
    path: str | None = None
    url: str = ""


class ScorerIn(BaseModel):
    name: str
    description: str = ""
    deployment_id: str
    component_name: str


class PromptContentIn(BaseModel):
    messages: list[Any]
    model: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    output_format: str = "text"
    response_schema: dict[str, Any] | None = None


class PromptIn(PromptContentIn):
    name: str
    description: str = ""


def _content(body: PromptContentIn) -> dict[str, Any]:
    return body.model_dump(include={"messages", "model", "parameters", "output_format", "response_schema"})


@router.get("/deployments", response_model=list[Deployment])
def list_deployments(svc: ServicesDep) -> list[dict[str, Any]]:
    """List deployments and their components."""
    return queries.deployments(svc.view)


@router.post("/deployments", status_code=201, response_model=Deployment)
def create_deployment(body: DeploymentIn, svc: ServicesDep) -> dict[str, Any]:
    """Register a Python module's components (module, path) or an HTTP worker's (url)."""
    return catalog.create_deployment(svc, body.name, deployment_source(body.module, body.url, body.path))


@router.get("/scorers", response_model=ScorerCatalog)
def list_scorers(svc: ServicesDep) -> dict[str, Any]:
    """The built-in scorers with their config, and the custom scorers."""
    builtins = [
        {"name": s.name, "kind": s.kind, "requires_config": s.requires_config, "description": s.description,
         "config": s.config_schema}
        for s in sorted(BUILTINS.values(), key=lambda s: (s.kind, s.name))
    ]  # fmt: skip
    return {"builtin": builtins, "custom": queries.scorers(svc.view)}


@router.post("/scorers", status_code=201, response_model=CustomScorer)
def create_scorer(body: ScorerIn, svc: ServicesDep) -> dict[str, Any]:
    """Register a deployed custom scorer component; attach it to experiments by its id."""
    deployment = parse_uuid(body.deployment_id, "deployment_id")
    return catalog.create_scorer(svc, body.name, body.description, deployment, body.component_name)


@router.get("/prompts", response_model=list[Prompt])
def list_prompts(svc: ServicesDep) -> list[dict[str, Any]]:
    """List prompts."""
    return queries.prompts(svc.view)


@router.post("/prompts", status_code=201, response_model=PromptCreated)
def create_prompt(body: PromptIn, svc: ServicesDep) -> dict[str, Any]:
    """Create a prompt and its version 1."""
    return catalog.create_prompt(svc, body.name, _content(body), body.description)


@router.get("/prompts/{prompt_id}/versions", response_model=list[PromptVersionBody])
def list_prompt_versions(prompt_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    """A prompt's versions."""
    return queries.prompt_versions(svc.view, str(parse_uuid(prompt_id, "prompt_id")))


@router.post("/prompts/{prompt_id}/versions", status_code=201, response_model=PromptVersionBody)
def create_prompt_version(prompt_id: str, body: PromptContentIn, svc: ServicesDep) -> dict[str, Any]:
    """Add the next immutable version of a prompt."""
    return catalog.create_prompt_version(svc, parse_uuid(prompt_id, "prompt_id"), _content(body))
