"""Datasets: the list, a dataset's versions and their diff, a version's items, and the draft."""

from __future__ import annotations

from agnt5_evals.api.studio.web import router as studio_router

router = studio_router()
