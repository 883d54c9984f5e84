"""The Studio: the Evaluate pages in the browser, served by ``agnt5 server`` at ``/studio`` (docs/studio.md).

Server-rendered HTML (Jinja2), htmx for the parts of a page that change, charts as inline SVG; every page reads the
same services and projections as the REST API.
"""

from __future__ import annotations

from fastapi import FastAPI

from agnt5_evals.api.studio.pages import compare, core, datasets, experiments, items, runs


def install(app: FastAPI) -> None:
    """Serve the Studio's pages on ``app`` (under ``/studio``)."""
    for module in (core, datasets, experiments, runs, items, compare):
        app.include_router(module.router)
