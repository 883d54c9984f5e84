"""Definitions from user input (CLI flags or a REST body): deployment sources, experiment targets and scorers."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agnt5_evals.adapters import bundles
from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.components import discover
from agnt5_evals.adapters.http_target import check_url, discover_http_build
from agnt5_evals.domain import ids
from agnt5_evals.domain.errors import Forbidden, Invalid, NotFound
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
        given = prompt_version_id or ""
        if given.isascii() and given.isdecimal():  # a version number: version ids derive from it
            version = str(ids.prompt_version_id(pid, int(given)))
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


def deployment_source(
    module: str,
    url: str,
    path: str | None,
    home: Path,
    editable: bool = False,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    max_size: str | None = None,
    module_roots: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Where the components come from, with the components found there (``create_deployment``'s arguments, and
    ``snapshot``: the tree to store, for a Python deployment that is not editable).

    A snapshot is extracted into the bundle cache under ``home`` and its components are discovered there: what
    the deployment records is what its runs will import. ``module_roots`` (the server's): the folders a module may
    come from (None: any, for the local CLI, which runs as its user).
    """
    if bool(module) == bool(url):
        raise Invalid("give exactly one (module for a Python module, url for an HTTP worker)", field="module, url")
    include, exclude = list(include or []), list(exclude or [])
    if url:
        for field, given in (("path", path is not None), ("editable", editable), ("include", include),
                             ("exclude", exclude), ("max_size", max_size is not None)):  # fmt: skip
            if given:
                raise Invalid("only with a module (an HTTP deployment imports nothing)", field=field)
        root = check_url(url)
        components, build = discover_http_build(root)
        return {"kind": "http", "module": "", "path": "", "url": root, "components": components, "build": build}
    root = os.path.abspath(path or ".") if module_roots is None else check_module_path(path, module_roots)
    if not os.path.isdir(root):
        raise Invalid(f"{root} is not a directory", field="path")
    source = {"kind": "python", "module": module, "path": root, "url": "", "include": include, "exclude": exclude}
    if editable:
        if max_size is not None:
            raise Invalid("only for a snapshot (an editable deployment stores no files)", field="max_size")
        return {**source, "components": discover(module, root)}
    snap = bundles.snapshot(
        root, include, exclude, bundles.parse_size(max_size) if max_size else bundles.DEFAULT_MAX_SIZE
    )
    if not snap.files:
        raise Invalid(f"no file under {root} is left to snapshot (see the include and exclude globs)", field="path")
    extracted = bundles.write_tree(snap, bundles.cache_dir(home, snap.digest))
    return {**source, "components": discover(module, str(extracted)), "snapshot": snap}


def check_module_path(path: str | None, roots: Sequence[str]) -> str:
    """``path`` resolved (symbolic links and ``..`` followed), when it lies in one of ``roots``; else ``Forbidden``
    naming ``path``: a server imports modules from its configured roots only (``AGNT5_MODULE_ROOTS``)."""
    if not roots:
        raise Forbidden("this server imports no module from its disk (no AGNT5_MODULE_ROOTS)", field="path")
    if not path:
        raise Forbidden("give the folder of the module, under one of the server's module roots", field="path")
    real = os.path.realpath(path)
    for root in roots:
        allowed = os.path.realpath(root)
        if os.path.commonpath([real, allowed]) == allowed:
            return real
    raise Forbidden("is outside the server's module roots (AGNT5_MODULE_ROOTS)", field="path")


def uploaded_source(module: str, bundle: dict[str, Any], home: Path) -> dict[str, Any]:
    """``create_deployment``'s arguments for a snapshot a client uploaded (``deployments create`` through a
    server): the bundle checked as untrusted input, extracted into the bundle cache, its components discovered
    there, as for a snapshot taken on this machine."""
    if not module:
        raise Invalid("a bundle is the code of a module: give module", field="module")
    if bundle.get("encoding") != bundles.ENCODING:
        raise Invalid(f"must be {bundles.ENCODING}", field="bundle.encoding")
    chunks, digest = bundle.get("chunks"), bundle.get("digest")
    if not isinstance(chunks, list) or not all(isinstance(c, str) for c in chunks) or not isinstance(digest, str):
        raise Invalid("must be {digest, encoding, chunks: [base64 strings]}", field="bundle")
    snap = bundles.decode_upload(chunks, digest)
    extracted = bundles.write_tree(snap, bundles.cache_dir(home, snap.digest))
    source = {"kind": "python", "module": module, "path": "", "url": "", "include": [], "exclude": []}
    return {**source, "components": discover(module, str(extracted)), "snapshot": snap}
