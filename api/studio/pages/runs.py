"""A run's page: status and live progress, verdict, counts, scorers, charts, the item table and the actions.

Cheap on a run of any size: the header, counts, gate and scorers come from the ``runs`` and ``run_scorers`` rows;
the table is one page read with ``LIMIT`` (``projections.studio_runs``); the latency figures and the two charts,
which count every item and score of the run in the database, are computed once per finished run (and again only if
its rows change: a replacing rescore) and kept, and a big run's page loads them as a fragment after the page.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import Form, Request, Response
from fastapi.responses import StreamingResponse

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.api.deps import get_services
from agnt5_evals.api.studio.charts import Bar, bars
from agnt5_evals.api.studio.session import SessionDep
from agnt5_evals.api.studio.web import PREFIX, page, redirect, secured
from agnt5_evals.api.studio.web import router as studio_router
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.reports import excerpt, run_summary
from agnt5_evals.domain.runs import TERMINAL
from agnt5_evals.projections import queries, studio_runs
from agnt5_evals.services import exports, gates, operations, runs

router = studio_router()

EXPORTS = {"jsonl": "jsonl", "csv": "csv", "junit": "xml", "markdown": "md", "html": "html"}  # format: extension
INLINE_STATS_ITEMS = 5_000  # a run up to this size gets its charts in the page itself; a bigger one, after it
STATS_KEPT = 128  # finished runs whose latency figures and charts are kept in memory
_stats: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_stats_lock = threading.Lock()


def _rid(run_id: str) -> str:
    return str(parse_uuid(run_id, "run_id"))


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _fingerprint(
    run: dict[str, Any], scorer_rows: list[dict[str, Any]], rescore_rows: list[dict[str, Any]]
) -> tuple[Any, ...]:
    """What the kept figures of a finished run depend on: its counts, its scorers' sums and its rescores (a
    replacing rescore changes the current scores)."""
    rescores = tuple((r["id"], r["status"], r["done"]) for r in rescore_rows)
    scorers = tuple(
        (r["scorer_key"], r["n"], r["sum_score_e9"], r["n_passed"], r["n_failed"], r["n_errored"]) for r in scorer_rows
    )
    head = (run["status"], run["done"], run["passed"], run["failed"], run["errored"], run["finished_at"])
    return (run["id"], head, scorers, rescores)


def _kept(key: tuple[Any, ...]) -> dict[str, Any] | None:
    with _stats_lock:
        found = _stats.get(key)
        if found is not None:
            _stats.move_to_end(key)
        return found


def _compute_stats(svc: Services, run_id: str) -> dict[str, Any]:
    """Latency p50/p95/max, tokens, the latency histogram and each scorer's score histogram: a few index reads and
    two ``GROUP BY`` queries."""
    low, high = studio_runs.duration_range(svc.view, run_id)
    latency_buckets = studio_runs.latency_histogram(svc.view, run_id, low, high)
    n = sum(count for _, _, count in latency_buckets)
    return {
        "latency": studio_runs.latency(svc.view, run_id, n),
        "tokens": studio_runs.tokens(svc.view, run_id),
        "latency_buckets": latency_buckets,
        "score_buckets": studio_runs.score_histograms(svc.view, run_id),
        "n": n,
    }


def _stats_of(
    svc: Services,
    run: dict[str, Any],
    scorer_rows: list[dict[str, Any]],
    compute: bool,
    rescore_rows: list[dict[str, Any]] | None = None,
) -> Any:
    """The finished run's figures (kept, or computed now when ``compute``); None when not kept and not computed."""
    rescore_rows = queries.rescores(svc.view, run["id"]) if rescore_rows is None else rescore_rows
    key = _fingerprint(run, scorer_rows, rescore_rows)
    found = _kept(key)
    if found is not None or not compute:
        return found
    found = _compute_stats(svc, run["id"])
    with _stats_lock:
        _stats[key] = found
        while len(_stats) > STATS_KEPT:
            _stats.popitem(last=False)
    return found


def _charts(stats: dict[str, Any], scorer_keys: list[str]) -> dict[str, Any]:
    """The SVG charts of the figures: a score histogram per scorer and the latency histogram."""
    labels = [f"{i / 10:.1f}" for i in range(10)]
    scores = []
    for key in scorer_keys:
        counts = stats["score_buckets"].get(key, [0] * 10)
        items = [
            Bar(label, float(count), "pass" if i >= 5 else "fail",
                f"{key}: {count} score(s) in [{i / 10:.1f}, {(i + 1) / 10:.1f}{']' if i == 9 else ')'}")
            for i, (label, count) in enumerate(zip(labels, counts, strict=True))
        ]  # fmt: skip
        scores.append({"scorer": key, "total": sum(counts), "svg": bars(items, f"score distribution of {key}")})
    buckets = stats["latency_buckets"]
    digits = _digits(buckets[0][1] - buckets[0][0]) if buckets else 0
    latency_bars = [
        Bar(f"{start:.{digits}f}", float(count), "", f"{start:.{digits}f} to {end:.{digits}f} ms: {count} item(s)")
        for start, end, count in buckets
    ]
    return {"scores": scores, "latency": bars(latency_bars, "latency histogram (ms)") if latency_bars else None}


def _digits(width: float) -> int:
    """Decimals that tell bucket boundaries ``width`` ms apart from each other (0 for 10 ms or more, at most 4)."""
    digits = 0
    while digits < 4 and width > 0 and width * 10**digits < 10:
        digits += 1
    return digits


def _context(
    svc: Services,
    run: dict[str, Any],
    scorer_rows: list[dict[str, Any]],
    table: studio_runs.TableQuery | None = None,
    compute_stats: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """Everything the run page shows (the table as ``table`` asks: the defaults when None), from the run's row and
    its ``run_scorers`` rows; the summary is ``operations.summary`` (without its detail) of the same rows."""
    summary = run_summary(run, scorer_rows, gates.extra_rules(svc, run))
    scorer_keys = _keys(run, scorer_rows)
    n_by_key = {row["scorer_key"]: row["n"] for row in scorer_rows}
    scorers = [{**s, "n": n_by_key.get(s["scorer"], 0)} for s in summary["scorers"]]
    live = run["status"] not in TERMINAL
    ctx: dict[str, Any] = {
        "run": run, "summary": summary, "scorers": scorers, "scorer_keys": scorer_keys,
        "header": studio_runs.run_header(svc.view, run), "live": live, "stats": None, "charts": None,
        "spec_scorers": [s.get("key") for s in run["spec"].get("scorers", [])], "exports": list(EXPORTS),
        "action_error": None, "regression": None, "rescore": None, "rescores": [], "nav": "experiments",
    }  # fmt: skip
    if not live:
        ctx["rescores"] = queries.rescores(svc.view, run["id"])
        compute = compute_stats or run["done"] <= INLINE_STATS_ITEMS
        stats = _stats_of(svc, run, scorer_rows, compute, ctx["rescores"])
        if stats is not None:
            ctx["stats"], ctx["charts"] = stats, _charts(stats, scorer_keys)
        ctx.update(_table(svc, run, scorer_keys, table or studio_runs.TableQuery()))
    ctx.update(extra)
    return ctx


def _keys(run: dict[str, Any], scorer_rows: list[dict[str, Any]]) -> list[str]:
    """The run's scorer keys in order (those it has scores of, else those of its spec)."""
    return [row["scorer_key"] for row in scorer_rows] or [str(s.get("key")) for s in run["spec"].get("scorers", [])]


def _read(svc: Services, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's row (of the current project, else NotFound) and its scorers' rows."""
    run = queries.run(svc.view, run_id)
    return run, queries.run_scorers(svc.view, run_id)


def _optional(read: Any) -> Any:
    try:
        return read()
    except NotFound:
        return None


def _table(svc: Services, run: dict[str, Any], scorer_keys: list[str], table: studio_runs.TableQuery) -> dict[str, Any]:
    """One page of the item table: its rows (input, output or error excerpts, scores) and the pager."""
    rows, more = studio_runs.item_page(svc.view, run, table)
    scores = studio_runs.item_scores(svc.view, run, rows)
    inputs = studio_runs.item_inputs(svc.view, run, [row["dataset_item_id"] for row in rows])
    items = [
        {**row, "scores": scores.get(row["id"], {}), "input_excerpt": excerpt(inputs.get(row["dataset_item_id"])),
         "output_excerpt": excerpt(row["error"]) if row["error"] is not None else excerpt(row["output"])}
        for row in rows
    ]  # fmt: skip
    return {"items": items, "table": table, "more": more, "matching": _matching(run, table)}


def _matching(run: dict[str, Any], table: studio_runs.TableQuery) -> int | None:
    """How many items the table's filter matches, when the run's counts say it (no scorer filter)."""
    if table.scorer:
        return None
    counts = {"all": run["done"], "failures": run["failed"] + run["errored"], "failed": run["failed"],
              "errored": run["errored"], "passed": run["passed"]}  # fmt: skip
    return int(counts[table.outcome])


def _table_query(params: dict[str, str], keys: list[str]) -> studio_runs.TableQuery:
    try:
        page_number = int(params.get("page") or 1)
    except ValueError:
        raise Invalid(f"must be a number, got {params.get('page', '')[:20]!r}", field="page") from None
    return studio_runs.table_query(
        params.get("outcome") or "all", params.get("scorer") or "", params.get("sort") or "position",
        params.get("direction") or "asc", page_number, keys,
    )  # fmt: skip


def _extras(svc: Services, run_id: str, params: dict[str, str]) -> dict[str, Any]:
    """The panels a redirect after an action asks for: a rescore's progress, the regression dataset made."""
    out: dict[str, Any] = {}
    rescore_id = params.get("rescore") or ""
    if rescore_id:
        out["rescore"] = _rescore_panel(svc, run_id, str(parse_uuid(rescore_id, "rescore")))
    dataset_id = params.get("regression") or ""
    if dataset_id:
        out["regression"] = _optional(lambda: queries.dataset(svc.view, str(parse_uuid(dataset_id, "regression"))))
    return out


def _rescore_panel(svc: Services, run_id: str, rescore_id: str) -> dict[str, Any]:
    row = queries.rescore(svc.view, rescore_id)
    if row["run_id"] != run_id:
        raise NotFound(f"rescore {rescore_id} is not a rescore of run {run_id}", field="rescore")
    if row["status"] == "running":
        return {**operations.rescore_progress(svc, rescore_id), "replace_latest": bool(row["replace_latest"])}
    return operations.rescore_summary(svc, rescore_id)


@router.get("/runs/{run_id}")
def run_page(request: Request, session: SessionDep, run_id: str) -> Response:
    """The run's page; an htmx request from the item table's controls gets the table alone."""
    svc, rid = get_services(request), _rid(run_id)
    params = dict(request.query_params)
    run, scorer_rows = _read(svc, rid)
    keys = _keys(run, scorer_rows)
    table = _table_query(params, keys)
    if _is_htmx(request) and request.headers.get("hx-target") == "items":
        return page(request, "runs/_table.html.j2", run=run, scorer_keys=keys, **_table(svc, run, keys, table))
    ctx = _context(svc, run, scorer_rows, table, **_extras(svc, rid, params))
    return page(request, "runs/run.html.j2", **ctx)


@router.get("/runs/{run_id}/progress")
def progress(request: Request, session: SessionDep, run_id: str) -> Response:
    """The live progress fragment the page polls every second; once the run has finished, the whole page body
    instead (retargeted to ``#run``: the final numbers, charts and table), which has nothing polling."""
    svc, rid = get_services(request), _rid(run_id)
    current = operations.run_progress(svc, rid)
    if current["status"] in TERMINAL:
        response = page(request, "runs/_body.html.j2", **_context(svc, *_read(svc, rid)))
        response.headers["HX-Retarget"] = "#run"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return page(request, "runs/_progress.html.j2", run=queries.run(svc.view, rid), summary=current)


@router.get("/runs/{run_id}/stats")
def stats(request: Request, session: SessionDep, run_id: str) -> Response:
    """Latency figures, tokens and the charts of a finished run (computed once, then kept)."""
    svc, rid = get_services(request), _rid(run_id)
    run, scorer_rows = _read(svc, rid)
    if run["status"] not in TERMINAL:
        raise Conflict(f"run {rid} is {run['status']}: its charts come when it has finished")
    keys = _keys(run, scorer_rows)
    found = _stats_of(svc, run, scorer_rows, compute=True)
    return page(request, "runs/_stats.html.j2", run=run, stats=found, charts=_charts(found, keys))


@router.get("/runs/{run_id}/rescores/{rescore_id}")
def rescore_panel(request: Request, session: SessionDep, run_id: str, rescore_id: str) -> Response:
    """A rescore's panel (polled while it runs); a finished replacing rescore brings the whole body again (the
    run's numbers changed)."""
    svc, rid = get_services(request), _rid(run_id)
    panel = _rescore_panel(svc, rid, str(parse_uuid(rescore_id, "rescore_id")))
    if panel["status"] != "running" and panel["replace_latest"] and _is_htmx(request):
        response = page(request, "runs/_body.html.j2", **_context(svc, *_read(svc, rid), rescore=panel))
        response.headers["HX-Retarget"] = "#run"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return page(request, "runs/_rescore.html.j2", run=queries.run(svc.view, rid), rescore=panel)


def _failed_action(request: Request, svc: Services, rid: str, exc: Invalid | Conflict, action: str) -> Response:
    status = 409 if isinstance(exc, Conflict) else 422
    error = {**exc.as_dict(), "action": action}
    return page(request, "runs/run.html.j2", status, **_context(svc, *_read(svc, rid), action_error=error))


@router.post("/runs/{run_id}/cancel")
def cancel(request: Request, session: SessionDep, run_id: str) -> Response:
    """Cancel a pending or running run (``runs cancel``); what finished is kept."""
    svc, rid = get_services(request), _rid(run_id)
    try:
        runs.cancel_run(svc, parse_uuid(rid, "run_id"))
    except (Invalid, Conflict) as exc:
        return _failed_action(request, svc, rid, exc, "cancel")
    return redirect(request, f"{PREFIX}/runs/{rid}")


@router.post("/runs/{run_id}/rescore")
def rescore(
    request: Request,
    session: SessionDep,
    run_id: str,
    scorer: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form(max_length=2000)] = "",
    replace_latest: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Score the run's recorded outputs again with its scorers (all, or those ticked); go to its progress."""
    svc, rid = get_services(request), _rid(run_id)
    try:
        run = queries.run(svc.view, rid)
        own = run["spec"].get("scorers", [])
        chosen = [s for s in own if s.get("key") in set(scorer or [])]
        unknown = sorted(set(scorer or []) - {s.get("key") for s in own})
        if unknown:
            raise Invalid(f"the run has no scorer {unknown[0][:80]!r}", field="scorer")
        made = operations.start_rescore(svc, rid, chosen or None, [], reason, bool(replace_latest))
    except (Invalid, Conflict) as exc:
        return _failed_action(request, svc, rid, exc, "rescore")
    return redirect(request, f"{PREFIX}/runs/{rid}?rescore={made['id']}#rescore")


@router.post("/runs/{run_id}/regression-dataset")
def regression_dataset(
    request: Request, session: SessionDep, run_id: str, name: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Capture the run's failed and errored items as a published dataset (and an experiment over it)."""
    svc, rid = get_services(request), _rid(run_id)
    try:
        made = operations.regression_dataset(svc, rid, name, [])
    except (Invalid, Conflict) as exc:
        return _failed_action(request, svc, rid, exc, "regression")
    return redirect(request, f"{PREFIX}/runs/{rid}?regression={made['dataset_id']}#actions")


@router.get("/runs/{run_id}/export/{fmt}")
def export(request: Request, session: SessionDep, run_id: str, fmt: str) -> Response:
    """The run's export (the bytes of ``GET /runs/{id}/export?format=...``) as a download."""
    if fmt not in EXPORTS:
        raise NotFound(f"no export format {fmt[:20]!r} (use {', '.join(EXPORTS)})", field="format")
    svc, rid = get_services(request), _rid(run_id)
    body, media_type = exports.stream_export(svc, rid, fmt, "items", None)
    disposition = f'attachment; filename="run-{rid}.{EXPORTS[fmt]}"'
    return secured(StreamingResponse(body, media_type=media_type, headers={"Content-Disposition": disposition}))
