"""Deployments, scorers and prompts: what experiments are made of."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field

from agnt5_evals.api.deps import ServicesDep, server_config
from agnt5_evals.api.routes import Router
from agnt5_evals.api.schemas_catalog import (
    CustomScorer,
    Deployment,
    DeploymentDetail,
    Prompt,
    PromptCreated,
    ScorerCatalog,
)
from agnt5_evals.api.schemas_catalog import (
    PromptVersion as PromptVersionBody,
)
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.scoring import BUILTINS
from agnt5_evals.domain.text_rules import check_name
from agnt5_evals.projections import queries
from agnt5_evals.services import catalog
from agnt5_evals.services.definitions import deployment_source, uploaded_source

router = Router(tags=["catalog"])


class BundleIn(BaseModel):
    """A snapshot taken by the client (``agnt5 deployments create`` through a server)."""

    digest: str
    encoding: str
    chunks: list[str]


class DeploymentIn(BaseModel):
    name: str
    module: str = ""
    bundle: BundleIn | None = None
    path: str | None = None
    url: str = ""
    editable: bool = False
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    max_size: str | None = None


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


@router.get("/deployments", response_model=list[Deployment], response_model_exclude_unset=True)
def list_deployments(svc: ServicesDep, all: bool = False) -> list[dict[str, Any]]:
    """List deployments and their components; archived ones only with ``all=true``."""
    return queries.deployments(svc.view, archived=all)


@router.post("/deployments", status_code=201, response_model=Deployment, response_model_exclude_unset=True)
def create_deployment(body: DeploymentIn, svc: ServicesDep, request: Request) -> dict[str, Any]:
    """Snapshot a Python module's tree (module, path; or editable: the live files) or register an HTTP worker (url)."""
    check_name(body.name)  # before anything is fetched or imported for a request that would be refused anyway
    if body.bundle is not None:  # path, include and exclude: how the client took it, recorded as given
        if body.url or body.editable or body.max_size is not None:
            raise Invalid("a bundle is a snapshot taken by the client: no url, editable or max_size", field="bundle")
        source = uploaded_source(body.module, body.bundle.model_dump(), svc.settings.home)
        source |= {"path": body.path or "", "include": body.include, "exclude": body.exclude}
        return catalog.create_deployment(svc, body.name, source)
    roots = server_config(request).module_roots
    source = deployment_source(
        body.module, body.url, body.path, svc.settings.home, body.editable, body.include, body.exclude, body.max_size,
        module_roots=roots,
    )  # fmt: skip
    return catalog.create_deployment(svc, body.name, source)


@router.get("/deployments/{deployment_id}", response_model=DeploymentDetail, response_model_exclude_unset=True)
def show_deployment(deployment_id: str, svc: ServicesDep) -> dict[str, Any]:
    """A deployment with the files of its snapshot (none when editable or served over HTTP)."""
    return catalog.deployment_detail(svc, parse_uuid(deployment_id, "deployment_id"))


@router.post("/deployments/{deployment_id}/archive", response_model=Deployment, response_model_exclude_unset=True)
def archive_deployment(deployment_id: str, svc: ServicesDep) -> dict[str, Any]:
    """Archive a deployment: it starts no new runs (a run of it answers 409); its runs still show it."""
    return catalog.archive_deployment(svc, parse_uuid(deployment_id, "deployment_id"))


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
