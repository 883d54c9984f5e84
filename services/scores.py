"""Score and annotation reads shared by the edges (recording an annotation: ``operations.annotate``)."""

from __future__ import annotations

from typing import Any

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.projections import queries


def list_scores(
    svc: Services, run_id: str = "", run_item_id: str = "", scorer: str = "", rescore_id: str = ""
) -> list[dict[str, Any]]:
    """Current scores of a run or run item (or a rescore's scores); an unknown run or rescore is NotFound."""
    if run_id:
        queries.run(svc.view, run_id)
    if rescore_id:
        queries.rescore(svc.view, rescore_id)
    return queries.scores(svc.view, run_id, run_item_id, scorer, rescore_id)
