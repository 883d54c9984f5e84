"""Scores and their evidence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response

from agnt5_evals.api.bodies import json_rows, plan
from agnt5_evals.api.deps import ServicesDep
from agnt5_evals.api.routes import PAGE_ROWS, Router
from agnt5_evals.api.schemas import Score, ScoreEvidence
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.reports import EVIDENCE_PARTS
from agnt5_evals.services import operations, scores

router = Router(tags=["scores"])
MAX_PAGE = 10**9  # (page - 1) * page_size stays far inside the store's 64-bit integers
MAX_PAGE_SIZE = 10_000
PLAN = plan(Score)  # made at import: a model api.bodies cannot write fails here, not on a request


def _a_page(arguments: dict[str, Any]) -> bool:
    """Whether a list of scores asks for one page of at most ``PAGE_ROWS`` (``page`` 0 is all of them)."""
    return bool(arguments.get("page")) and arguments.get("page_size", PAGE_ROWS + 1) <= PAGE_ROWS


@router.read("/scores", response_model=list[Score], bounded=_a_page)
def list_scores(
    svc: ServicesDep,
    run_id: str = "",
    run_item_id: str = "",
    scorer: str = "",
    rescore_id: str = "",
    page: Annotated[int, Query(ge=0, le=MAX_PAGE)] = 0,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 1000,
    after: Annotated[
        str, Query(description="the cursor: only the scores after this score id (the last one shown)")
    ] = "",
) -> Response:
    """Current scores of a run or a run item, or the scores a rescore recorded (``page`` from 1, 0 for all)."""
    if not run_id and not run_item_id and not rescore_id:
        raise Invalid("give run_id, run_item_id or rescore_id")
    rid = str(parse_uuid(run_id, "run_id")) if run_id else ""
    iid = str(parse_uuid(run_item_id, "run_item_id")) if run_item_id else ""
    resc = str(parse_uuid(rescore_id, "rescore_id")) if rescore_id else ""
    cursor = str(parse_uuid(after, "after")) if after else ""
    return json_rows(scores.list_scores(svc, rid, iid, scorer, resc, page, page_size, cursor, raw=True), Score)


@router.get("/scores/{score_id}/evidence", response_model=ScoreEvidence, response_model_exclude_unset=True)
def score_evidence(score_id: str, svc: ServicesDep, include: str = ",".join(EVIDENCE_PARTS)) -> dict[str, Any]:
    """What the scorer saw, what it returned, and its evidence."""
    return operations.score_evidence(svc, str(parse_uuid(score_id, "score_id")), include)
