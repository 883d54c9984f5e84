"""agnt5-evals: an event-sourced experiments service for AI components.

Components and scorers import what they need from here::

    from agnt5_evals import Context, component, scorer

The repository's top-level folders (domain, projections, sdk, adapters, worker, services, api, cli) are this
package's subpackages: ``pyproject.toml`` maps them with setuptools ``package-dir``, so the distribution installs
one import package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agnt5_evals.sdk import Context, TransientError, component, scorer

__all__ = ["Context", "TransientError", "component", "scorer"]


def __getattr__(name: str) -> Any:
    """The SDK's names, imported on first use: the CLI imports this package first and rarely needs them."""
    if name in __all__:
        return getattr(importlib.import_module("agnt5_evals.sdk"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
