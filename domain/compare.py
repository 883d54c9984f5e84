"""Comparing two runs: pairing, flips, score movement with paired confidence intervals, the McNemar verdict, and
whether the two runs measured the same thing. Pure functions over rows the read models return.

Items are paired by (dataset item, repetition). Every delta is the compare run's value minus the base run's, over
the paired items; its 95% interval is a paired percentile bootstrap seeded by the two run ids (``domain.stats``).
Every interval of one comparison uses that seed, so the same differences always get the same interval (a scorer
that failed exactly the items that flipped shows the run's own pass-rate interval).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agnt5_evals.domain import stats
from agnt5_evals.domain.gates import pass_rate
from agnt5_evals.domain.lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = LazyModule("numpy")  # imported on first use (domain.lazy)

Key = tuple[str, int]
FLIP_KINDS = ("newly_failing", "newly_passing")
Verdicts = Mapping[tuple[bool, bool], int]  # (passed in the base run, passed in the other) -> pairs


@dataclass(frozen=True)
class ScorerPairs:
    """One scorer over two runs: each run's mean over all its items, and over the pairs both runs scored their
    score differences (compare - base; in pair order, or any order when ``stats.paired_interval`` allows) and
    their verdicts (None: not every pair has both verdicts)."""

    scorer: str
    base_mean: float | None
    compare_mean: float | None
    paired_items: int
    score_diffs: npt.NDArray[np.float64]
    verdicts: Verdicts | None


@dataclass(frozen=True)
class Pairing:
    """Everything a comparison reports, counted: each run's (items, passed), the pairs' statuses, the flips (the
    first ones listed, all counted), the scorers, and the items of one run only (dataset item ids, sorted)."""

    paired_items: int
    base: tuple[int, int]
    other: tuple[int, int]
    statuses: Verdicts
    flips: Mapping[str, list[dict[str, Any]]]
    scorers: list[ScorerPairs]
    only_in_base: list[str]
    only_in_compare: list[str]


def compare(
    base_items: Iterable[Mapping[str, Any]], compare_items: Iterable[Mapping[str, Any]], seed: int = 0
) -> dict[str, Any]:
    """Pair run items by (dataset item, repetition): pass-rate and per-scorer movement, flips and the verdict.

    Each item mapping has ``dataset_item_id``, ``repetition``, ``run_item_id``, ``status``, ``scores`` (scorer
    key -> score) and, optionally, ``passed`` (scorer key -> whether that scorer passed it).
    """
    base = {(i["dataset_item_id"], i["repetition"]): i for i in base_items}
    other = {(i["dataset_item_id"], i["repetition"]): i for i in compare_items}
    paired = sorted(base.keys() & other.keys())
    flips: dict[str, list[dict[str, Any]]] = {"newly_failing": [], "newly_passing": []}
    statuses: Counter[tuple[bool, bool]] = Counter()
    for key in paired:
        was, now = base[key]["status"] == "passed", other[key]["status"] == "passed"
        statuses[was, now] += 1
        if was != now:
            flips["newly_passing" if now else "newly_failing"].append(_flip(key, base[key], other[key]))
    pairing = Pairing(
        paired_items=len(paired),
        base=_counts(base.values()),
        other=_counts(other.values()),
        statuses=statuses,
        flips=flips,
        scorers=_scorer_pairs(base, other, paired),
        only_in_base=sorted(k[0] for k in base.keys() - other.keys()),
        only_in_compare=sorted(k[0] for k in other.keys() - base.keys()),
    )
    return compare_pairing(pairing, seed)


def compare_pairing(pairing: Pairing, seed: int) -> dict[str, Any]:
    """The comparison of counted pairs (``Pairing``): the same figures ``compare`` gives for the items they count.
    ``newly_failing`` / ``newly_passing`` are the flips listed; the verdict counts them all (``flip_counts``)."""
    failing, passing = pairing.statuses.get((True, False), 0), pairing.statuses.get((False, True), 0)
    verdict, p_value = stats.movement(failing, passing)
    interval = stats.paired_interval(_verdict_diffs(pairing.statuses), seed)
    base, other = _side(*pairing.base), _side(*pairing.other)
    return {
        "paired_items": pairing.paired_items,
        "base": base,
        "compare": other,
        "pass_rate_delta": other["pass_rate"] - base["pass_rate"],
        "paired_pass_rate_delta": interval.delta,
        "pass_rate_ci95": interval.as_list(),
        "mcnemar_p_value": p_value,
        "verdict": verdict,
        "scorers": [_scorer_row(s, seed) for s in pairing.scorers],
        **{kind: pairing.flips[kind] for kind in FLIP_KINDS},
        "only_in_base": pairing.only_in_base,
        "only_in_compare": pairing.only_in_compare,
    }


def _verdict_diffs(verdicts: Verdicts) -> npt.NDArray[np.float64]:
    """The paired differences (1, 0 or -1) of counted verdicts, in value order."""
    counts = [verdicts.get((True, False), 0), verdicts.get((True, True), 0) + verdicts.get((False, False), 0),
              verdicts.get((False, True), 0)]  # fmt: skip
    return np.repeat(np.array([-1.0, 0.0, 1.0]), counts)


def _flip(key: Key, was: Mapping[str, Any], now: Mapping[str, Any]) -> dict[str, Any]:
    return flip_row(key[0], key[1], was["run_item_id"], now["run_item_id"], was["status"], now["status"])


def flip_row(dataset_item_id: str, repetition: int, base_run_item_id: str, compare_run_item_id: str,
             base_status: str, compare_status: str) -> dict[str, Any]:  # fmt: skip
    return {
        "dataset_item_id": dataset_item_id,
        "repetition": repetition,
        "base_run_item_id": base_run_item_id,
        "compare_run_item_id": compare_run_item_id,
        "base_status": base_status,
        "compare_status": compare_status,
    }


def _counts(items: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    rows = list(items)
    return len(rows), sum(1 for i in rows if i["status"] == "passed")


def _side(total: int, passed: int) -> dict[str, Any]:
    return {"total": total, "passed": passed, "pass_rate": pass_rate(passed, total)}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _scorer_pairs(
    base: Mapping[Key, Mapping[str, Any]], other: Mapping[Key, Mapping[str, Any]], paired: list[Key]
) -> list[ScorerPairs]:
    """Per scorer: each run's mean over all its items, and over the items both runs scored, the score differences
    (in pair order) and the verdicts."""
    keys = sorted({k for side in (base, other) for item in side.values() for k in item["scores"]})
    rows = []
    for scorer in keys:
        both = [k for k in paired if scorer in base[k]["scores"] and scorer in other[k]["scores"]]
        diffs = [float(other[k]["scores"][scorer]) - float(base[k]["scores"][scorer]) for k in both]
        verdicts: Counter[tuple[bool, bool]] | None = Counter()
        for k in both:
            was, now = base[k].get("passed", {}), other[k].get("passed", {})
            if scorer not in was or scorer not in now or verdicts is None:
                verdicts = None
                continue
            verdicts[bool(was[scorer]), bool(now[scorer])] += 1
        rows.append(ScorerPairs(
            scorer=scorer,
            base_mean=_mean([float(i["scores"][scorer]) for i in base.values() if scorer in i["scores"]]),
            compare_mean=_mean([float(i["scores"][scorer]) for i in other.values() if scorer in i["scores"]]),
            paired_items=len(both),
            score_diffs=np.asarray(diffs, dtype=np.float64),
            verdicts=verdicts,
        ))  # fmt: skip
    return rows


def _scorer_row(s: ScorerPairs, seed: int) -> dict[str, Any]:
    """A scorer's row: each run's mean over all its items (``base_mean``, ``compare_mean``, ``delta``), and over
    the items both runs scored, the paired mean-score and pass-rate deltas with their 95% intervals."""
    before, after = s.base_mean, s.compare_mean
    row: dict[str, Any] = {
        "scorer": s.scorer,
        "base_mean": before,
        "compare_mean": after,
        "delta": after - before if after is not None and before is not None else None,
        "paired_items": s.paired_items,
        "mean_delta_ci95": stats.paired_interval(s.score_diffs, seed).as_list(),
    }
    row.update(_pass_movement(s.verdicts, seed))
    return row


def _pass_movement(verdicts: Verdicts | None, seed: int) -> dict[str, Any]:
    """A scorer's pass rate on the paired items in each run, the delta and its interval (when verdicts are known)."""
    if verdicts is None:
        return {"base_pass_rate": None, "compare_pass_rate": None, "pass_rate_delta": None, "pass_rate_ci95": None}
    n = sum(verdicts.values())
    was = sum(count for (before, _), count in verdicts.items() if before)
    now = sum(count for (_, after), count in verdicts.items() if after)
    interval = stats.paired_interval(_verdict_diffs(verdicts), seed)
    return {
        "base_pass_rate": was / n if n else None,
        "compare_pass_rate": now / n if n else None,
        "pass_rate_delta": interval.delta,
        "pass_rate_ci95": interval.as_list(),
    }


def comparability(base: Mapping[str, Any], other: Mapping[str, Any]) -> list[dict[str, Any]]:
    """How two runs (read-model rows with ``spec``) differ in what they measured: dataset version, scorer set,
    scorer config, and the code under test. ``strict`` marks a difference ``--strict`` refuses: a different
    measurement (dataset version or scorers), or different code under one deployment (its files changed). Two
    deployments' code differing is what a comparison of candidates is for: reported, never refused."""
    out: list[dict[str, Any]] = []
    if base["dataset_version_id"] != other["dataset_version_id"]:
        message = "the runs use different dataset versions; items are paired by dataset item id"
        out.append(_difference("dataset_version_id", base["dataset_version_id"], other["dataset_version_id"], True,
                               message))  # fmt: skip
    was = {s.get("key") or s.get("name"): s for s in base["spec"].get("scorers", [])}
    now = {s.get("key") or s.get("name"): s for s in other["spec"].get("scorers", [])}
    if was.keys() != now.keys():
        message = "the runs have different scorer sets; an item's status means different things"
        out.append(_difference("scorers", sorted(was), sorted(now), True, message))
    for key in sorted(was.keys() & now.keys()):
        if was[key] != now[key]:
            out.append(_difference(f"scorers.{key}", was[key], now[key], True,
                                   f"scorer {key!r} is configured differently in the two runs"))  # fmt: skip
    out.extend(_code_difference(base["spec"].get("target", {}), other["spec"].get("target", {})))
    return out


def _code_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    for field in ("code_digest", "build"):
        if a.get(field) and b.get(field) and a[field] != b[field]:
            same = bool(a.get("deployment_id")) and a.get("deployment_id") == b.get("deployment_id")
            what = "code" if field == "code_digest" else "builds of the HTTP worker"
            message = (
                f"deployment {a['deployment_id']} ran different {what} in the two runs ({a[field]} vs {b[field]}): "
                "the comparison mixes two programs"
                if same
                else f"the runs ran different {what} ({a[field]} vs {b[field]}): the candidates compared"
            )
            return [_difference(field, a[field], b[field], same, message)]
    return []


def _difference(field: str, was: Any, now: Any, strict: bool, message: str) -> dict[str, Any]:
    return {"field": field, "base": was, "compare": now, "strict": strict, "message": message}
