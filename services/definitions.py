"""Definitions from user input (CLI flags or a REST body): deployment sources, experiment targets and scorers."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.components import discover
from agnt5_evals.adapters.http_target import check_url, discover_http
from agnt5_evals.domain import ids
from agnt5_evals.domain.errors import Invalid, NotFound
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.scoring import parse_scorer_spec, with_keys

TARGET_TYPES = ("component", "deployment", "prompt")


def target_from(
    target_type: str,
    deployment_id: str | None,
    component_name: str | None,
    component_type: str | None,
    prompt_id: str | None,
    prompt_version_id: str | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """The target of an experiment definition; errors name the field (``target.deployment_id`` ...)."""
    if target_type not in TARGET_TYPES:
        raise Invalid(f"must be one of {', '.join(TARGET_TYPES)}, got {target_type!r}", field="target.type")
    if target_type == "prompt":  # prompts run in our own worker (AGNT5_LLM_BASE_URL): no deployment plays a part
        if not prompt_id:
            raise Invalid("required for a prompt target", field="target.prompt_id")
        if deployment_id:
            warn("--deployment-id is ignored for prompt targets: the agnt5 worker executes the prompt")
        pid, version = parse_uuid(prompt_id, "target.prompt_id"), None
        if prompt_version_id and prompt_version_id.isdigit():  # a version number: version ids derive from it
            version = str(ids.prompt_version_id(pid, int(prompt_version_id)))
        elif prompt_version_id:
            version = str(parse_uuid(prompt_version_id, "target.prompt_version_id"))
        return {"type": "prompt", "prompt_id": str(pid), "prompt_version_id": version}
    for flag, value in (("target.deployment_id", deployment_id), ("target.component_name", component_name),
                        ("target.component_type", component_type)):  # fmt: skip
        if not value:
            raise Invalid(f"required for a {target_type} target", field=flag)
    return {
        "type": "component",
        "deployment_id": str(parse_uuid(str(deployment_id), "target.deployment_id")),
        "component_name": component_name,
        "component_type": component_type,
    }


def scorers_from(svc: Services, builtin: list[str] | None, scorer_ids: list[str] | None) -> list[dict[str, Any]]:
    """Built-in specs (names or JSON) and custom scorers by id, with display keys."""
    specs = [parse_scorer_spec(raw, f"scorers[{n}]") for n, raw in enumerate(builtin or [])]
    for raw in scorer_ids or []:
        try:
            specs.append(svc.app.scorer_spec(parse_uuid(raw, "scorer_ids")))
        except NotFound as exc:
            raise NotFound(exc.message, field="scorer_ids") from None
    if not specs:
        raise Invalid("attach at least one scorer (a built-in scorer or a scorer id)", field="scorers")
    return with_keys(specs)


def deployment_source(module: str, url: str, path: str | None) -> dict[str, Any]:
    """Where the components come from, with the components found there (``create_deployment``'s arguments)."""
    if bool(module) == bool(url):
        raise Invalid("give exactly one (module for a Python module, url for an HTTP worker)", field="module, url")
    if url:
        if path is not None:
            raise Invalid("only with a module (an HTTP deployment imports nothing)", field="path")
        root = check_url(url)
        return {"kind": "http", "module": "", "path": "", "url": root, "components": discover_http(root)}
    root = os.path.abspath(path or ".")
    return {"kind": "python", "module": module, "path": root, "url": "", "components": discover(module, root)}
