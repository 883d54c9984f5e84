"""Python component targets: import a deployment's module (in a worker process) and call a component."""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from agnt5_evals.adapters import agnt5_sdk
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.sdk import COMPONENT_ATTR, Context

_OWN = "agnt5_evals"
_imported: set[str] = set()  # top-level names of deployment modules this process imported
_paths: set[str] = set()  # the deployment paths it put on sys.path


def import_module(module: str, path: str) -> Any:
    if path and path not in sys.path:
        sys.path.insert(0, path)
        _paths.add(path)
    _imported.add(module.split(".")[0])
    return agnt5_sdk.import_module(module)  # importlib's, keeping the AGNT5 SDK components it registers apart


def forget_imported() -> None:
    """Drop the deployment modules this process imported, so that the next import reads the current code.

    A worker forked from a process that executed components before (worker.standby) would otherwise run the
    parent's copy of a module that has changed, or been deleted, since: that includes the project's own packages
    (its ``domain``, say), found by where their files are.
    """
    roots = tuple(os.path.join(os.path.abspath(p), "") for p in _paths)
    for name, module in list(sys.modules.items()):
        top = name.split(".")[0]
        origin = os.path.abspath(getattr(module, "__file__", None) or "/")
        if top != _OWN and (top in _imported or origin.startswith(roots)):
            del sys.modules[name]
    sys.path[:] = [entry for entry in sys.path if entry not in _paths]
    _imported.clear()
    _paths.clear()
    importlib.invalidate_caches()


def components_of(module: Any) -> dict[str, Callable[..., Any]]:
    """The module's components: those marked with our decorators, and those of the AGNT5 SDK's (``agnt5_sdk``)."""
    found = agnt5_sdk.components_of(module)
    for value in vars(module).values():
        meta = getattr(value, COMPONENT_ATTR, None)
        if callable(value) and isinstance(meta, dict):
            found[meta["name"]] = value
    return found


def discover(module: str, path: str) -> list[dict[str, str]]:
    """List a module's components by importing it in a child process (never in the caller's process)."""
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "agnt5_evals.adapters.components", module, path],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["import failed"])[-1]
        raise Invalid(f"cannot import {module!r}: {last}", field="module")
    result: list[dict[str, str]] = json.loads(proc.stdout)
    return result


@functools.lru_cache(maxsize=1024)
def takes_context(fn: Callable[..., Any]) -> bool:
    """Whether a component takes ``(ctx, input)`` rather than ``(input)``."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in inspect.signature(fn).parameters.values() if p.kind in kinds) >= 2


def invoke(fn: Callable[..., Any], ctx: Context, payload: Any) -> Any:
    """Call a component as ``fn(ctx, input)`` or ``fn(input)``, running coroutines to completion."""
    result = fn(ctx, payload) if takes_context(fn) else fn(payload)
    if inspect.isawaitable(result):
        import asyncio

        async def wait() -> Any:
            return await result

        return asyncio.run(wait())
    return result


def _main() -> None:
    module, path = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
    found = components_of(import_module(module, path))
    print(json.dumps([getattr(fn, COMPONENT_ATTR) for fn in found.values()]))


if __name__ == "__main__":
    _main()
