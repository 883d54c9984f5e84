"""Comparing two runs (``runs compare``, ``GET /runs/{a}/compare/{b}``): the statistics of ``domain.compare`` over
the read model, the comparability check, and the flipped items with what they were asked, expected and answered."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.domain import stats
from agnt5_evals.domain.compare import FLIP_KINDS, Pairing, ScorerPairs, comparability, compare_pairing, flip_row
from agnt5_evals.domain.errors import Conflict, Invalid
from agnt5_evals.domain.flaky import flaky_items
from agnt5_evals.domain.lazy import LazyModule
from agnt5_evals.domain.reports import failing_scorers
from agnt5_evals.projections import pairing, queries
from agnt5_evals.projections.views import Row
from agnt5_evals.services import finished
from agnt5_evals.services.pairs import vector_flaky, vector_pairing

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")  # imported on first use (domain.lazy)


def outcomes(svc: Services, run_id: str) -> list[dict[str, Any]]:
    """A run's items as ``domain.compare`` pairs them: ids, status, scores and each scorer's verdict."""
    return [
        {
            "dataset_item_id": item["dataset_item_id"],
            "repetition": item["repetition"],
            "run_item_id": item["id"],
            "status": item["status"],
            "scores": item["scores"],
            "passed": item["passed"],
        }
        for item in queries.run_item_outcomes(svc.view, run_id)
    ]


def check_scorer(svc: Services, scorer: str, *run_ids: str) -> None:
    """A ``scorer`` filter must name a scorer of the run(s): a misspelt one would show nothing, silently."""
    if not scorer:
        return
    keys = sorted({row["scorer_key"] for run_id in run_ids for row in queries.run_scorers(svc.view, run_id)})
    if scorer not in keys:
        raise Invalid(f"no scorer {scorer!r} in the run; its scorers are {', '.join(keys) or 'none'}", field="scorer")


def compare_runs(
    svc: Services,
    base_id: str,
    compare_id: str,
    *,
    strict: bool = False,
    scorer: str = "",
    limit: int | None = None,
    details: bool = True,
) -> dict[str, Any]:
    """Two runs paired by dataset item and repetition: pass-rate and per-scorer deltas with 95% paired bootstrap
    intervals, the exact McNemar test of the flips and its plain verdict, how the runs differ in what they
    measured (``strict``: refuse when they differ in dataset version, scorers or a deployment's code), and the
    flips (``scorer``: only those that scorer failed; ``limit``: the first N of each kind) with their values
    (``details=False``: without them, for ``stream_details`` to add a page at a time).

    The pairs are counted from the runs' vectors (``services.pairs``: finished runs of one dataset version), else
    in SQL (``projections.pairing``), and only the flips listed are read in full: the figures are those
    ``domain.compare.compare`` gives for the runs' items (same pairs, same seed, same resampling). Its queries are
    one read transaction."""
    if limit is not None and limit < 0:
        raise Invalid(f"must be 0 or more, got {limit}", field="limit")
    return svc.view.reading(lambda: _compare_runs(svc, base_id, compare_id, strict, scorer, limit, details))


def _compare_runs(
    svc: Services, base_id: str, compare_id: str, strict: bool, scorer: str, limit: int | None, details: bool
) -> dict[str, Any]:
    base, other = queries.run(svc.view, base_id), queries.run(svc.view, compare_id)
    check_scorer(svc, scorer, base_id, compare_id)
    differences = comparability(base, other)
    blocking = [d for d in differences if d["strict"]]
    if strict and blocking:
        raise Conflict("the runs are not comparable: " + "; ".join(d["message"] for d in blocking), field="strict")
    cacheable = details and limit is not None and limit <= CACHED_FLIPS  # (details=False: flips read lazily)

    def figures() -> dict[str, Any]:
        return _figures(svc, base, other, scorer, limit, details)

    args = (scorer, limit, details)
    result = finished.cached(svc, "compare", (base_id, compare_id), args, figures) if cacheable else figures()
    return {
        "base_run_id": base_id,
        "compare_run_id": compare_id,
        "same_dataset_version": base["dataset_version_id"] == other["dataset_version_id"],
        **result,
        "comparability": differences,
        "warnings": [d["message"] for d in blocking],
    }


CACHED_FLIPS = 1000  # a comparison listing at most this many flips of each kind is kept (services.finished)


def _figures(
    svc: Services, base: dict[str, Any], other: dict[str, Any], scorer: str, limit: int | None, details: bool
) -> dict[str, Any]:
    """The statistics and the flips of two runs (``compare_runs`` less the checks)."""
    base_id, compare_id = base["id"], other["id"]
    from_vectors = vector_pairing(svc.view, base, other, scorer, limit, lazy=not details)
    if from_vectors is not None:
        counted, flip_counts = from_vectors
    else:
        counted = _pairing(svc, base_id, compare_id, scorer, limit)
        flip_counts = {
            kind: pairing.flip_count(svc.view, base_id, compare_id, kind, scorer)
            if scorer
            else counted.statuses.get(FLIPPED[kind], 0)
            for kind in FLIP_KINDS
        }
    result = compare_pairing(counted, stats.seed_of(base_id, compare_id))
    if details:
        _add_details(svc, base, other, result)
    for kind in FLIP_KINDS:
        result[f"{kind}_count"] = flip_counts[kind]
    return result


FLIPPED = {"newly_failing": (True, False), "newly_passing": (False, True)}  # (passed before, passed after)


def _pairing(svc: Services, base_id: str, compare_id: str, scorer: str, limit: int | None) -> Pairing:
    """The two runs' pairs counted in SQL, with the first ``limit`` flips of each kind (``scorer``: of those it
    failed)."""
    view = svc.view
    base, other = pairing.side(view, base_id), pairing.side(view, compare_id)
    verdicts, aligned = pairing.counted_pairs(view, base_id, compare_id)
    paired = sum(verdicts.values())
    flips = {kind: [flip_row(**row) for row in pairing.flips(view, base_id, compare_id, kind, scorer, limit)]
             for kind in FLIP_KINDS}  # fmt: skip
    return Pairing(
        paired_items=paired,
        base=base,
        other=other,
        statuses=verdicts,
        flips=flips,
        scorers=_scorers(svc, base_id, compare_id, aligned=aligned == paired == base[0] == other[0]),
        only_in_base=pairing.unpaired(view, base_id, compare_id) if paired < base[0] else [],
        only_in_compare=pairing.unpaired(view, compare_id, base_id) if paired < other[0] else [],
    )


def _scorers(svc: Services, base_id: str, compare_id: str, aligned: bool) -> list[ScorerPairs]:
    """Each scorer's means and paired differences. Differences of at most ``stats.FEW`` distinct values, or of
    more than ``stats.LARGE`` pairs, are rebuilt from their grouped counts (their order does not matter); others
    (a bootstrap over the pairs) are read in pair order. ``aligned``: the runs' items pair position by position."""
    view = svc.view
    before, after = pairing.scorer_means(view, base_id), pairing.scorer_means(view, compare_id)
    groups: dict[str, list[Row]] = {}
    for row in pairing.scorer_groups(view, base_id, compare_id, aligned):
        groups.setdefault(row["scorer"], []).append(row)
    out = []
    for key in pairing.scorer_keys(view, base_id, compare_id):
        verdicts: Counter[tuple[bool, bool]] = Counter()
        diffs: Counter[float] = Counter()
        for row in groups.get(key, []):
            verdicts[bool(row["was"]), bool(row["now"])] += int(row["n"])
            diffs[float(row["d"])] += int(row["n"])
        n = sum(diffs.values())
        if len(diffs) > stats.FEW and n <= stats.LARGE:
            values = np.asarray(pairing.scorer_diffs(view, base_id, compare_id, key), dtype=np.float64)
        else:
            distinct = sorted(diffs)
            values = np.repeat(np.asarray(distinct, dtype=np.float64), [diffs[d] for d in distinct])
        out.append(ScorerPairs(key, before.get(key), after.get(key), n, values, verdicts))
    return out


DETAILS_PAGE = 500  # flips given their values at a time by ``stream_details``


def stream_details(svc: Services, compared: dict[str, Any], kind: str) -> Iterator[dict[str, Any]]:
    """The flips of one kind of a ``compare_runs(..., details=False)`` result, each with the values
    ``compare_runs`` gives it, read a page at a time (a big run's flips and their outputs are never all held)."""
    base = {"id": compared["base_run_id"]}
    other = queries.run(svc.view, compared["compare_run_id"])
    flips = iter(compared[kind])  # a list, or flips read a page at a time (``services.pairs.LazyFlips``)
    while chosen := [dict(flip) for flip in itertools.islice(flips, DETAILS_PAGE)]:
        page: dict[str, list[dict[str, Any]]] = {key: [] for key in FLIP_KINDS}
        page[kind] = chosen
        _add_details(svc, base, other, page)
        yield from page[kind]


def _add_details(svc: Services, base: dict[str, Any], other: dict[str, Any], result: dict[str, Any]) -> None:
    """Give each flip the input and expected output of its dataset item, both runs' outputs (and errors), and the
    scorers that failed it on its failing side, with their labels and explanations."""
    flips = [f for kind in FLIP_KINDS for f in result[kind]]
    if not flips:
        return
    was = queries.run_items_by_id(svc.view, base["id"], [f["base_run_item_id"] for f in flips])
    now = queries.run_items_by_id(svc.view, other["id"], [f["compare_run_item_id"] for f in flips])
    examples = queries.dataset_items_by_id(svc.view, other["dataset_version_id"], [f["dataset_item_id"] for f in flips])
    for flip in flips:
        before, after = was[flip["base_run_item_id"]], now[flip["compare_run_item_id"]]
        example = examples.get(flip["dataset_item_id"], {})
        failing = after if flip["compare_status"] != "passed" else before
        flip.update({
            "input": example.get("input"),
            "expected_output": example.get("expected_output"),
            "base_output": before["output"],
            "compare_output": after["output"],
            "base_error": before["error"],
            "compare_error": after["error"],
            "failing_scorers": failing_scorers(failing["scores"]),
        })  # fmt: skip


MAX_LAST = 100


def flaky(svc: Services, experiment_id: str, last: int = 5) -> dict[str, Any]:
    """The dataset items whose verdict changed across the last ``last`` completed runs of an experiment, with
    each run's verdict of them and their input (from the newest run's dataset version)."""
    return flaky_page(svc, experiment_id, last)[0]


def flaky_page(
    svc: Services, experiment_id: str, last: int = 5, limit: int | None = None
) -> tuple[dict[str, Any], int]:
    """``flaky`` with only the first ``limit`` items (most changes first), and how many items are flaky. Runs of
    one dataset version are read from their vectors (``services.pairs``), others item by item."""
    if not 2 <= last <= MAX_LAST:
        raise Invalid(f"must be from 2 to {MAX_LAST}, got {last}", field="last")
    runs = [run for run in queries.runs(svc.view, experiment_id) if run["status"] == "completed"][-last:]
    from_vectors = vector_flaky(svc.view, runs, limit)
    if from_vectors is not None:
        items, total = from_vectors
    else:
        every = flaky_items([(run, queries.run_item_outcomes(svc.view, run["id"])) for run in runs])
        items, total = every[:limit], len(every)
    if runs and items:
        examples = queries.dataset_items_by_id(svc.view, runs[-1]["dataset_version_id"],
                                               [i["dataset_item_id"] for i in items])  # fmt: skip
        for item in items:
            example = examples.get(item["dataset_item_id"], {})
            item["input"], item["expected_output"] = example.get("input"), example.get("expected_output")
    runs_seen = [{"id": r["id"], "name": r["name"], "created_at": r["created_at"]} for r in runs]
    return {"experiment_id": experiment_id, "runs": runs_seen, "items": items}, total
