"""Experiments: the list, the create form, and an experiment's page (its runs, the trend, the flaky items)."""

from __future__ import annotations

from agnt5_evals.api.studio.web import router as studio_router

router = studio_router()
