"""A run's page: status and live progress, verdict, counts, scorers, charts, the item table and the actions."""

from __future__ import annotations

from agnt5_evals.api.studio.web import router as studio_router

router = studio_router()
