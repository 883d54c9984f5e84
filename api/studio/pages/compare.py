"""Compare: pick two runs; the movement with its interval and verdict, the flips first, each item side by side.

The comparison is ``services.compare.compare_runs`` (``GET /runs/{a}/compare/{b}``) with a limit on the flips it
details; the list of every paired item is paged in SQL (``projections.studio_items.paired_page``): the page never
loads a run's items.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from agnt5_evals.api.deps import get_services
from agnt5_evals.api.studio.diff import diff_values
from agnt5_evals.api.studio.session import SessionDep
from agnt5_evals.api.studio.web import page
from agnt5_evals.api.studio.web import router as studio_router
from agnt5_evals.domain.errors import Conflict, EvalsError, Invalid, NotFound
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.projections import names, queries, studio_items
from agnt5_evals.services.compare import compare_runs

router = studio_router()

FLIP_KINDS = ("newly_failing", "newly_passing")  # newly failing first: what a reviewer looks for
FLIPS = 20  # flips of each kind detailed (with both outputs and their diff) unless ?flips= asks for more
MAX_FLIPS = 200
STATUS = {Conflict: 409, NotFound: 404, Invalid: 422}


def _status(exc: EvalsError) -> int:
    return next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)


@router.get("/compare")
def compare_page(
    request: Request,
    session: SessionDep,
    base: Annotated[str, Query(max_length=400)] = "",
    candidate: Annotated[str, Query(max_length=400)] = "",
    experiment: Annotated[str, Query(max_length=400)] = "",
    strict: Annotated[str, Query(max_length=10)] = "",
    scorer: Annotated[str, Query(max_length=200)] = "",
    flips: Annotated[int, Query(ge=0, le=MAX_FLIPS)] = FLIPS,
    after: Annotated[int | None, Query(ge=-1, le=2**31 - 1)] = None,
    before: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> Response:
    """Without both runs: the picker. With ``base`` and ``candidate`` (ids or names): the comparison."""
    base, candidate = base.strip(), candidate.strip()
    params: dict[str, Any] = {"base": base, "candidate": candidate, "strict": "1" if strict else "",
                              "scorer": scorer, "flips": flips if flips != FLIPS else ""}  # fmt: skip
    if not base or not candidate:
        return _picker(request, params, experiment)
    view = get_services(request).view
    try:
        base_id = names.resolve(view, "run", base, "base")
        other_id = names.resolve(view, "run", candidate, "candidate")
        result = compare_runs(get_services(request), base_id, other_id, strict=bool(strict), scorer=scorer,
                              limit=flips)  # fmt: skip
    except (Invalid, NotFound, Conflict) as exc:
        return _picker(request, params, experiment, exc.as_dict(), _status(exc))
    runs = {"base": queries.run(view, base_id), "compare": queries.run(view, other_id)}
    experiments = {side: queries.experiment(view, run["experiment_id"]) for side, run in runs.items()}
    for kind in FLIP_KINDS:
        for flip in result[kind]:
            both = flip["base_error"] is None and flip["compare_error"] is None
            flip["diff"] = diff_values(flip["base_output"], flip["compare_output"]) if both else None
    paired = studio_items.paired_page(view, runs["base"], runs["compare"], after, before)
    return page(
        request,
        "compare/compare.html.j2",
        nav="compare",
        params=params,
        result=result,
        runs=runs,
        experiments=experiments,
        paired=paired,
        scorer_keys=sorted({row["scorer"] for row in result["scorers"]}),
    )


def _picker(
    request: Request, params: dict[str, Any], experiment: str, error: dict[str, Any] | None = None, status: int = 200
) -> Response:
    """Choose an experiment and two of its runs, or paste two run ids or names."""
    view = get_services(request).view
    runs: list[dict[str, Any]] = []
    chosen = None
    if experiment:
        try:
            chosen = queries.experiment(view, str(parse_uuid(experiment, "experiment")))
            runs = studio_items.experiment_runs(view, chosen["id"])
        except (Invalid, NotFound) as exc:
            error, status = error or exc.as_dict(), status if error else _status(exc)
    if len(runs) > 1 and not (params["base"] or params["candidate"]):  # the latest run against the one before
        params = {**params, "candidate": runs[0]["id"], "base": runs[1]["id"]}
    return page(request, "compare/picker.html.j2", status, nav="compare", params=params, error=error,
                experiments=studio_items.experiments(view), experiment=chosen, runs=runs)  # fmt: skip
