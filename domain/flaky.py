"""Flaky items: the dataset items whose verdict changed across an experiment's recent runs. Pure, over the outcomes
of each run (oldest first).

In one run an item's verdict is ``passed`` when every repetition passed, ``failed``/``errored`` when every
repetition did that, and ``mixed`` when its repetitions disagree. An item is flaky when its verdicts over the runs
that have it include a pass and a non-pass (or any ``mixed``): a verdict that moves while nothing was meant to
change it is noise a gate should not trust.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

PASSED, MIXED = "passed", "mixed"


def _kind(verdict: str) -> str:
    """passed, mixed, or not passed (failed and errored are the same verdict to a gate)."""
    return verdict if verdict in (PASSED, MIXED) else "not passed"


def _verdict(statuses: list[str]) -> str:
    return statuses[0] if len(set(statuses)) == 1 else MIXED


def flaky_items(runs: Sequence[tuple[Mapping[str, Any], Iterable[Mapping[str, Any]]]]) -> list[dict[str, Any]]:
    """``runs``: (run row, its items' ``dataset_item_id`` and ``status``), oldest first. Returns each flaky item
    with its ``history`` (one entry per run: run id, name, created_at and the verdict, ``None`` where the run did
    not have the item) and ``changes`` (how often the verdict went between passed, mixed and not passed from one
    run to the next), most changes first, then by dataset item id."""
    per_run: list[dict[str, list[str]]] = []
    for _run, items in runs:
        statuses: dict[str, list[str]] = {}
        for item in items:
            statuses.setdefault(item["dataset_item_id"], []).append(item["status"])
        per_run.append(statuses)
    out = []
    for item_id in sorted({i for statuses in per_run for i in statuses}):
        verdicts = [_verdict(statuses[item_id]) if item_id in statuses else None for statuses in per_run]
        present = [v for v in verdicts if v is not None]
        passes = {v == PASSED for v in present if v != MIXED}
        if MIXED not in present and len(passes) < 2:
            continue
        changes = sum(1 for a, b in itertools.pairwise(present) if _kind(a) != _kind(b))
        history = [{"run_id": run["id"], "run_name": run["name"], "created_at": run["created_at"], "verdict": v}
                   for (run, _items), v in zip(runs, verdicts, strict=True)]  # fmt: skip
        out.append({"dataset_item_id": item_id, "changes": changes, "history": history})
    return sorted(out, key=lambda row: (-row["changes"], row["dataset_item_id"]))
