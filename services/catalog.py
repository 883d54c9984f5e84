"""What experiments are made of: deployments, custom scorers, prompts and their versions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from agnt5_evals.adapters import bundles
from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.prompts import PromptVersion
from agnt5_evals.projections import queries


def create_deployment(svc: Services, name: str, source: dict[str, Any]) -> dict[str, Any]:
    """Register a deployment from ``definitions.deployment_source``'s result; returns its row.

    A snapshot's bundle is staged first (chunks nothing reads yet), then committed with the deployment in one
    save: a create that fails or is killed leaves no deployment, and a later create of the same code reuses the
    staged chunks.
    """
    source = dict(source)
    snap: bundles.Snapshot | None = source.pop("snapshot", None)
    svc.app.check_deployment(name, source["kind"], source["module"], source["url"], source["components"])
    if snap is not None:
        chunk_ids = svc.app.stage_bundle(snap.digest, bundles.encode(snap))
        source["bundle"] = {"digest": snap.digest, "size": snap.size, "n_files": len(snap.files),
                            "encoding": bundles.ENCODING, "chunk_ids": chunk_ids}  # fmt: skip
    written = svc.app.create_deployment(name, **source)
    svc.wait_for(written.position)
    return queries.deployment(svc.view, str(written.id))


def deployment_detail(svc: Services, deployment_id: UUID) -> dict[str, Any]:
    """A deployment's row with its code: the snapshot's files (path, size, executable, sha256), or none."""
    row = queries.deployment(svc.view, str(deployment_id))
    digest = row["bundle_digest"]
    files = bundles.manifest(svc.app.bundle_chunks(digest)) if digest else []
    return {**row, "files": files}


def archive_deployment(svc: Services, deployment_id: UUID) -> dict[str, Any]:
    """Archive a deployment (no new runs); returns its row."""
    written = svc.app.archive_deployment(deployment_id)
    svc.wait_for(written.position)
    return queries.deployment(svc.view, str(written.id))


def create_scorer(
    svc: Services, name: str, description: str, deployment_id: UUID, component_name: str
) -> dict[str, Any]:
    """Register a deployed custom scorer component; returns its row."""
    written = svc.app.create_scorer(name, description, deployment_id, component_name)
    svc.wait_for(written.position)
    return next(row for row in queries.scorers(svc.view) if row["id"] == str(written.id))


def scorer_spec(svc: Services, scorer_id: UUID) -> dict[str, Any]:
    """The spec a custom scorer is attached with (its deployment and component)."""
    return svc.app.scorer_spec(scorer_id)


def create_prompt(svc: Services, name: str, content: dict[str, Any], description: str = "") -> dict[str, Any]:
    """Create a prompt and its version 1; returns the prompt's row with ``version`` (version 1's row)."""
    written = svc.app.create_prompt(name, content, description)
    svc.wait_for(written.position)
    row = queries.prompt(svc.view, str(written.id))
    return {**row, "version": queries.prompt_version(svc.view, str(PromptVersion.create_id(written.id, 1)))}


def create_prompt_version(svc: Services, prompt_id: UUID, content: dict[str, Any]) -> dict[str, Any]:
    """Add the next immutable version of a prompt; returns the version's row."""
    written = svc.app.create_prompt_version(prompt_id, content)
    svc.wait_for(written.position)
    return queries.prompt_version(svc.view, str(written.id))
