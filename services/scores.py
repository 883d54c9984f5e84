"""Score and annotation reads shared by the edges (recording an annotation: ``operations.annotate``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain.errors import Invalid
from agnt5_evals.projections import queries


def list_scores(
    svc: Services,
    run_id: str = "",
    run_item_id: str = "",
    scorer: str = "",
    rescore_id: str = "",
    page: int = 0,
    page_size: int = 1000,
    after: str = "",
    raw: bool = False,
) -> list[dict[str, Any]]:
    """Current scores of a run or run item (or a rescore's scores), in item order; ``page`` (1-based) of
    ``page_size``, or all (0); ``after``: only those after this score (the cursor: the last one of the page
    before, so a deep page is read from the index, not counted to). An unknown run or rescore is NotFound.
    ``raw``: JSON columns as ``queries.RawJson``. In one read transaction (``EvalsView.reading``)."""
    if page < 0 or page_size < 1:
        raise Invalid(f"need page >= 0 and page_size >= 1, got {page}, {page_size}", field="page, page_size")

    def read() -> list[dict[str, Any]]:
        if run_id:
            queries.run(svc.view, run_id)
        if rescore_id:
            queries.rescore(svc.view, rescore_id)
        cursor = queries.score_cursor(svc.view, after) if after else None
        if after and (cursor is None or (run_id and cursor[0] != run_id)):
            raise Invalid(f"no score {after} in this list (give the id of a score the page before listed)",
                          field="after")  # fmt: skip
        window = (page_size, (page - 1) * page_size) if page else None
        return queries.scores(svc.view, run_id, run_item_id, scorer, rescore_id, window, cursor[1] if cursor else None,
                              raw)  # fmt: skip

    return svc.view.reading(read)


PAGE = 2000  # scores read at a time by ``iter_scores``


def iter_scores(
    svc: Services, run_id: str = "", run_item_id: str = "", scorer: str = "", rescore_id: str = ""
) -> Iterator[dict[str, Any]]:
    """Every score ``list_scores`` gives with page 0, read a page at a time (by the last one's position, scorer
    index and id: no page rereads the ones before it); the run or rescore is checked at once."""
    if run_id:
        queries.run(svc.view, run_id)
    if rescore_id:
        queries.rescore(svc.view, rescore_id)

    def pages() -> Iterator[dict[str, Any]]:
        after: tuple[int, int, str] | None = None
        while True:
            rows = queries.scores(svc.view, run_id, run_item_id, scorer, rescore_id, (PAGE, 0), after)
            yield from rows
            if len(rows) < PAGE:
                return
            last = rows[-1]
            after = (last["position"], last["scorer_index"], last["id"])

    return pages()
