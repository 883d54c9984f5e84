"""Target adapters: what a run executes for each item. Each adapter is called as ``target(ctx, input)``.

A failure worth retrying raises ``TransientError``; any other exception is the item's final error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol
from uuid import UUID

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.adapters.bundles import code_path
from agnt5_evals.adapters.components import components_of, import_module, invoke
from agnt5_evals.domain.model import Deployment
from agnt5_evals.sdk import Context, TransientError

__all__ = ["Target", "TransientError", "load_target"]


class Target(Protocol):
    def __call__(self, ctx: Context, payload: Any) -> Any: ...


class PythonTarget:
    """A component of a Python module, imported in the worker process."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, ctx: Context, payload: Any) -> Any:
        try:
            return invoke(self.fn, ctx, payload)
        except (ConnectionError, TimeoutError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc


TargetFactory = Callable[[Services, dict[str, Any], Deployment | None], Target]
FACTORIES: dict[str, TargetFactory] = {}


def _python(services: Services, target: dict[str, Any], deployment: Deployment | None) -> Target:
    assert deployment is not None
    found = components_of(import_module(deployment.module, code_path(services.app, services.settings.home, deployment)))
    name = target["component_name"]
    if name not in found:
        raise LookupError(f"component {name!r} is not defined by module {deployment.module}")
    return PythonTarget(found[name])


FACTORIES["python"] = _python


ADAPTER_MODULES = {"http": "agnt5_evals.adapters.http_target", "prompt": "agnt5_evals.adapters.prompt_target"}


def factory_for(kind: str) -> TargetFactory | None:
    """The adapter factory for a kind; http and prompt adapters register when first needed (httpx is heavy)."""
    if kind not in FACTORIES and kind in ADAPTER_MODULES:
        importlib.import_module(ADAPTER_MODULES[kind])
    return FACTORIES.get(kind)


def load_target(services: Services, spec: dict[str, Any]) -> Target:
    """Build the adapter for a run's target (python or http deployments, prompts)."""
    target = spec["target"]
    if target.get("type") == "prompt":
        prompt = factory_for("prompt")
        assert prompt is not None
        return prompt(services, target, None)
    deployment = services.app.get(Deployment, UUID(target["deployment_id"]), "deployment")
    factory = factory_for(deployment.kind)
    if factory is None:
        raise LookupError(f"deployment {deployment.id} has kind {deployment.kind!r}, which no adapter runs")
    return factory(services, {**target, "config": spec.get("config") or {}}, deployment)
