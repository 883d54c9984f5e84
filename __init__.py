"""agnt5-evals: an event-sourced experiments service for AI components.

Components and scorers import what they need from here::

    from agnt5_evals import Context, component, scorer

The repository's top-level folders (domain, projections, sdk, adapters, worker, services, api, cli) are this
package's subpackages: ``pyproject.toml`` maps them with setuptools ``package-dir``, so the distribution installs
one import package.
"""

from __future__ import annotations

from agnt5_evals.sdk import Context, TransientError, component, scorer

__all__ = ["Context", "TransientError", "component", "scorer"]
