"""Two runs of one dataset version paired from their vectors (``projections.vectors``): the same ``Pairing`` that
``projections.pairing`` counts in SQL, as arithmetic over two runs' packed verdicts and scores.

Runs of one dataset version with the same repetitions pair position by position (checked: every paired
position holds the same item key in both vectors). Every figure is computed as the
SQL path computes it: verdicts and flips counted, each scorer's mean summed in item order (a running sum, as
Python's ``sum`` of the scores read in order), score differences as ``compare - base`` of the same doubles, grouped
by value, and listed in (dataset item, repetition) order when the bootstrap needs the pairs themselves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from agnt5_evals.domain import stats
from agnt5_evals.domain.compare import FLIP_KINDS, Pairing, ScorerPairs, flip_row
from agnt5_evals.domain.lazy import LazyModule
from agnt5_evals.projections import pairing, vectors
from agnt5_evals.projections.vectors import PASSED, PRESENT, RunVector
from agnt5_evals.projections.views import EvalsView

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Mask = npt.NDArray[np.bool_]
else:
    np = LazyModule("numpy")  # imported on first use (domain.lazy)


def comparable(base: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two runs' positions are the same (dataset item, repetition): one version, the same repetitions."""
    return bool(base["dataset_version_id"] == other["dataset_version_id"] and base["total"] == other["total"])


def vector_pairing(
    view: EvalsView, base: dict[str, Any], other: dict[str, Any], scorer: str, limit: int | None, lazy: bool = False
) -> tuple[Pairing, dict[str, int]] | None:
    """The pairing of two runs and each flip kind's count (``scorer``: of the flips that scorer failed), from
    their vectors; None when either run has no current vector or their positions differ. ``lazy``: each kind's
    flips are an iterable that reads them a page at a time (``LazyFlips``), not a list."""
    if not comparable(base, other):
        return None
    a, b = vectors.load(view, base["id"]), vectors.load(view, other["id"])
    if a is None or b is None or a.status.size != b.status.size:
        return None
    both = a.present & b.present
    alone_a, alone_b = a.key[a.present & ~b.present], b.key[b.present & ~a.present]
    if not np.array_equal(a.key[both], b.key[both]) or np.intersect1d(alone_a, alone_b).size:
        return None  # an item at different positions in the two runs: pair them by ids (``projections.pairing``)
    was, now = a.passed, b.passed
    statuses = {(w, n): int(np.count_nonzero(both & (was if w else ~was) & (now if n else ~now)))
                for w in (True, False) for n in (True, False)}  # fmt: skip
    statuses = {key: count for key, count in statuses.items() if count}
    masks = {"newly_failing": both & was & ~now, "newly_passing": both & ~was & now}
    if scorer:
        masks["newly_failing"] &= _failed_by(b, scorer)
        masks["newly_passing"] &= _failed_by(a, scorer)
    flips: dict[str, Any] = {
        kind: LazyFlips(view, a, b, masks[kind], limit) if lazy else _flips(view, a, b, masks[kind], limit)
        for kind in FLIP_KINDS
    }
    paired = int(np.count_nonzero(both))
    sides = [(int(np.count_nonzero(v.present)), int(np.count_nonzero(v.passed))) for v in (a, b)]
    result = Pairing(
        paired_items=paired,
        base=sides[0],
        other=sides[1],
        statuses=statuses,
        flips=flips,
        scorers=_scorers(a, b, both),
        only_in_base=_alone(view, a, b),
        only_in_compare=_alone(view, b, a),
    )
    return result, {kind: int(np.count_nonzero(masks[kind])) for kind in FLIP_KINDS}


def _alone(view: EvalsView, run: RunVector, other: RunVector) -> list[str]:
    """The dataset item ids of ``run``'s items without a pair in ``other`` (one per run item, sorted)."""
    positions = [int(p) for p in np.flatnonzero(run.present & ~other.present)]
    return sorted(row["dataset_item_id"] for row in pairing.items_at(view, run.run_id, positions).values())


def _failed_by(run: RunVector, scorer: str) -> Mask:
    """The positions where ``scorer`` has a current score that did not pass (failed or errored)."""
    if scorer not in run.scores:
        return np.zeros(run.status.size, dtype=np.bool_)
    flags = run.scores[scorer][1]
    return (flags & PRESENT).astype(np.bool_) & ~(flags & PASSED).astype(np.bool_)


def _in_pair_order(a: RunVector, mask: Mask) -> npt.NDArray[np.intp]:
    """The positions of ``mask`` in (dataset item, repetition) order."""
    positions = np.flatnonzero(mask)
    return positions[np.argsort(a.rank[positions], kind="stable")]


def _flips(view: EvalsView, a: RunVector, b: RunVector, mask: Mask, limit: int | None) -> list[dict[str, Any]]:
    return list(LazyFlips(view, a, b, mask, limit))


FLIP_PAGE = 2000


class LazyFlips:
    """The flips of one kind, in pair order, read ``FLIP_PAGE`` at a time (both runs' rows of a page, then the
    next): only their positions are held, so listing a big run's flips holds a page of them at a time."""

    def __init__(self, view: EvalsView, a: RunVector, b: RunVector, mask: Mask, limit: int | None) -> None:
        self.view, self.runs = view, (a.run_id, b.run_id)
        self.chosen = _in_pair_order(a, mask)[:limit] if limit != 0 else np.zeros(0, dtype=np.intp)

    def __len__(self) -> int:
        return int(self.chosen.size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for start in range(0, self.chosen.size, FLIP_PAGE):
            page = [int(p) for p in self.chosen[start : start + FLIP_PAGE]]
            was, now = (pairing.items_at(self.view, run_id, page) for run_id in self.runs)
            for p in page:
                w, n = was[p], now[p]
                yield flip_row(w["dataset_item_id"], int(w["repetition"]), w["id"], n["id"], w["status"], n["status"])


def _mean(run: RunVector, key: str) -> float | None:
    """A scorer's mean over the run's current scores, summed in position order (as ``pairing.scorer_means``)."""
    if key not in run.scores:
        return None
    value, flags = run.scores[key]
    scored = value[(flags & PRESENT).astype(np.bool_)]
    return float(np.cumsum(scored)[-1]) / scored.size if scored.size else None


def _scorers(a: RunVector, b: RunVector, both: Mask) -> list[ScorerPairs]:
    out = []
    for key in sorted(set(a.scores) | set(b.scores)):
        verdicts: Counter[tuple[bool, bool]] = Counter()
        values = np.zeros(0, dtype=np.float64)
        if key in a.scores and key in b.scores:
            (sa, fa), (sb, fb) = a.scores[key], b.scores[key]
            scored = both & (fa & PRESENT).astype(np.bool_) & (fb & PRESENT).astype(np.bool_)
            pa, pb = (fa[scored] & PASSED).astype(np.bool_), (fb[scored] & PASSED).astype(np.bool_)
            for w in (True, False):
                for n in (True, False):
                    count = int(np.count_nonzero((pa if w else ~pa) & (pb if n else ~pb)))
                    if count:
                        verdicts[w, n] = count
            diffs = sb[scored] - sa[scored]
            distinct, counts = np.unique(diffs, return_counts=True)
            if distinct.size > stats.FEW and diffs.size <= stats.LARGE:
                order = _in_pair_order(a, scored)
                values = sb[order] - sa[order]
            else:
                values = np.repeat(distinct, counts)
        out.append(ScorerPairs(key, _mean(a, key), _mean(b, key), int(values.size), values, verdicts))
    return out


MIXED = 1 + len(vectors.STATUSES)  # an item's verdict in a run whose repetitions disagree
PASSED_KIND, MIXED_KIND, NOT_PASSED_KIND = 0, 1, 2


def vector_flaky(
    view: EvalsView, runs: list[dict[str, Any]], limit: int | None
) -> tuple[list[dict[str, Any]], int] | None:
    """``domain.flaky.flaky_items`` of completed runs (oldest first) from their vectors: the first ``limit`` flaky
    items (most changes first, then by dataset item id) and how many there are. None unless every run is of one
    dataset version and repetitions, with a current vector holding every position and the same items."""
    if not runs or any(not comparable(runs[0], run) for run in runs):
        return None
    k = int((runs[0].get("spec") or {}).get("config", {}).get("repetitions", 1))
    loaded = [vectors.load(view, run["id"]) for run in runs]
    first = loaded[0]
    if first is None or k < 1 or first.status.size != int(runs[0]["total"]) or first.status.size % k:
        return None
    if any(v is None or v.status.size != first.status.size or not np.array_equal(v.key, first.key)
           or not v.present.all() for v in loaded):  # fmt: skip
        return None
    verdicts = np.stack([_verdicts(v, k) for v in loaded if v is not None])  # (runs, items)
    kinds = np.where(verdicts == 1 + vectors.STATUSES.index("passed"), PASSED_KIND,
                     np.where(verdicts == MIXED, MIXED_KIND, NOT_PASSED_KIND))  # fmt: skip
    flaky = (kinds == MIXED_KIND).any(0) | ((kinds == PASSED_KIND).any(0) & (kinds == NOT_PASSED_KIND).any(0))
    changes = (kinds[1:] != kinds[:-1]).sum(0)  # every run holds every item: no gaps to step over
    chosen = np.flatnonzero(flaky)
    item_rank = first.rank[::k].astype(np.int64) // k
    chosen = chosen[np.lexsort((item_rank[chosen], -changes[chosen]))][:limit]
    ids = pairing.items_at(view, runs[-1]["id"], [int(n) * k for n in chosen])
    names = {code: name for code, name in enumerate(("", *vectors.STATUSES, "mixed"))}
    out = []
    for n in (int(n) for n in chosen):
        history = [{"run_id": run["id"], "run_name": run["name"], "created_at": run["created_at"],
                    "verdict": names[int(verdicts[r, n])]} for r, run in enumerate(runs)]  # fmt: skip
        out.append({"dataset_item_id": ids[n * k]["dataset_item_id"], "changes": int(changes[n]), "history": history})
    return out, int(np.count_nonzero(flaky))


def _verdicts(run: RunVector, k: int) -> npt.NDArray[np.int64]:
    """Each item's verdict in a run with every position: its repetitions' status if they agree, else ``MIXED``."""
    statuses = run.status.reshape(-1, k).astype(np.int64)
    same = (statuses == statuses[:, :1]).all(1)
    return np.where(same, statuses[:, 0], MIXED)
