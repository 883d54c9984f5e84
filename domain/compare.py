"""Comparing two runs: pairing, flips, score movement with paired confidence intervals, the McNemar verdict, and
whether the two runs measured the same thing. Pure functions over rows the read models return.

Items are paired by (dataset item, repetition). Every delta is the compare run's value minus the base run's, over
the paired items; its 95% interval is a paired percentile bootstrap seeded by the two run ids (``domain.stats``).
Every interval of one comparison uses that seed, so the same differences always get the same interval (a scorer
that failed exactly the items that flipped shows the run's own pass-rate interval).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agnt5_evals.domain import stats
from agnt5_evals.domain.gates import pass_rate

Key = tuple[str, int]


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
    for key in paired:
        was, now = base[key]["status"] == "passed", other[key]["status"] == "passed"
        if was != now:
            flips["newly_passing" if now else "newly_failing"].append(_flip(key, base[key], other[key]))
    diffs = [float(other[k]["status"] == "passed") - float(base[k]["status"] == "passed") for k in paired]
    verdict, p_value = stats.movement(len(flips["newly_failing"]), len(flips["newly_passing"]))
    interval = stats.paired_interval(diffs, seed)
    return {
        "paired_items": len(paired),
        "base": _side(base.values()),
        "compare": _side(other.values()),
        "pass_rate_delta": _side(other.values())["pass_rate"] - _side(base.values())["pass_rate"],
        "paired_pass_rate_delta": interval.delta,
        "pass_rate_ci95": interval.as_list(),
        "mcnemar_p_value": p_value,
        "verdict": verdict,
        "scorers": _scorer_movement(base, other, paired, seed),
        **flips,
        "only_in_base": sorted(k[0] for k in base.keys() - other.keys()),
        "only_in_compare": sorted(k[0] for k in other.keys() - base.keys()),
    }


def _flip(key: Key, was: Mapping[str, Any], now: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "dataset_item_id": key[0],
        "repetition": key[1],
        "base_run_item_id": was["run_item_id"],
        "compare_run_item_id": now["run_item_id"],
        "base_status": was["status"],
        "compare_status": now["status"],
    }


def _side(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    rows = list(items)
    passed = sum(1 for i in rows if i["status"] == "passed")
    return {"total": len(rows), "passed": passed, "pass_rate": pass_rate(passed, len(rows))}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _scorer_movement(
    base: Mapping[Key, Mapping[str, Any]], other: Mapping[Key, Mapping[str, Any]], paired: list[Key], seed: int
) -> list[dict[str, Any]]:
    """Per scorer: each run's mean over all its items (``base_mean``, ``compare_mean``, ``delta``, as before), and
    over the items both runs scored, the paired mean-score and pass-rate deltas with their 95% intervals."""
    keys = sorted({k for side in (base, other) for item in side.values() for k in item["scores"]})
    rows = []
    for scorer in keys:
        before = _mean([float(i["scores"][scorer]) for i in base.values() if scorer in i["scores"]])
        after = _mean([float(i["scores"][scorer]) for i in other.values() if scorer in i["scores"]])
        both = [k for k in paired if scorer in base[k]["scores"] and scorer in other[k]["scores"]]
        score_diffs = [float(other[k]["scores"][scorer]) - float(base[k]["scores"][scorer]) for k in both]
        row: dict[str, Any] = {
            "scorer": scorer,
            "base_mean": before,
            "compare_mean": after,
            "delta": after - before if after is not None and before is not None else None,
            "paired_items": len(both),
            "mean_delta_ci95": stats.paired_interval(score_diffs, seed).as_list(),
        }
        row.update(_pass_movement(scorer, [base[k] for k in both], [other[k] for k in both], seed))
        rows.append(row)
    return rows


def _pass_movement(
    scorer: str, before: list[Mapping[str, Any]], after: list[Mapping[str, Any]], seed: int
) -> dict[str, Any]:
    """A scorer's pass rate on the paired items in each run, the delta and its interval (when verdicts are known)."""
    if not all(scorer in i.get("passed", {}) for i in (*before, *after)):
        return {"base_pass_rate": None, "compare_pass_rate": None, "pass_rate_delta": None, "pass_rate_ci95": None}
    was = [float(bool(i["passed"][scorer])) for i in before]
    now = [float(bool(i["passed"][scorer])) for i in after]
    interval = stats.paired_interval([b - a for a, b in zip(was, now, strict=True)], seed)
    return {
        "base_pass_rate": _mean(was),
        "compare_pass_rate": _mean(now),
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
