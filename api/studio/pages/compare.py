"""Compare: pick two runs; the movement with its interval and verdict, the flips first, each item side by side."""

from __future__ import annotations

from agnt5_evals.api.studio.web import router as studio_router

router = studio_router()
