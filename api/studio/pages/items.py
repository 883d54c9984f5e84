"""An item's page: input, expected output and output with a diff, the trace, the scores' evidence, annotations."""

from __future__ import annotations

from agnt5_evals.api.studio.web import router as studio_router

router = studio_router()
