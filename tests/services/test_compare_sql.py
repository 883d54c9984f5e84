"""``compare_runs`` counts the pairs in SQL: its JSON is byte for byte what the pure ``domain.compare.compare``
over every item gives (the way it was computed before), on both stores: pass/fail pairs, per-scorer means (a
fractional scorer's sum in item order), score differences of few values (counts resampled), of many values over
few pairs (a bootstrap over the pairs, in pair order) and over many pairs (the normal limit), missing verdicts,
items of one run only, errored items without scores, the scorer filter and every limit; and the gate's
baseline rule counts the same pass differences."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from agnt5_evals.domain import stats
from agnt5_evals.domain.compare import comparability, compare
from agnt5_evals.domain.gates import paired_pass_diffs
from agnt5_evals.domain.runs import Run, RunChunk
from agnt5_evals.projections import queries
from agnt5_evals.services import compare as compare_service
from agnt5_evals.services.compare import FLIP_KINDS, check_scorer, compare_runs, outcomes
from agnt5_evals.services.gates import pass_diffs
from tests.support import definition, unsharded_run


def before(svc, base_id: str, compare_id: str, scorer: str = "", limit: int | None = None) -> dict[str, Any]:
    """``compare_runs`` as it was: every item of both runs read, paired in Python, every flip detailed."""
    base, other = queries.run(svc.view, base_id), queries.run(svc.view, compare_id)
    check_scorer(svc, scorer, base_id, compare_id)
    differences = comparability(base, other)
    result = compare(outcomes(svc, base_id), outcomes(svc, compare_id), stats.seed_of(base_id, compare_id))
    compare_service._add_details(svc, base, other, result)
    for kind in FLIP_KINDS:
        flips = [f for f in result[kind] if not scorer or scorer in {s["scorer"] for s in f["failing_scorers"]}]
        result[f"{kind}_count"] = len(flips)
        result[kind] = flips if limit is None else flips[:limit]
    return {"base_run_id": base_id, "compare_run_id": compare_id,
            "same_dataset_version": base["dataset_version_id"] == other["dataset_version_id"], **result,
            "comparability": differences, "warnings": [d["message"] for d in differences if d["strict"]]}  # fmt: skip


def _score(rng: random.Random, key: str, value: float, passed: bool) -> dict[str, Any]:
    return {"id": f"s{rng.getrandbits(64):x}", "key": key, "name": key, "score": value, "passed": passed,
            "label": "ok" if passed else "bad", "explanation": f"{key} said {value}"}  # fmt: skip


def record_run(services, experiment_id, items: list[tuple[str, int, str, list[dict[str, Any]]] | None]) -> str:
    """A run (left running) holding these items: (dataset item id, repetition, status, scores), each at its place
    in the list (None: that position has no item)."""
    app = services.app
    run_id = unsharded_run(app, experiment_id)
    run = app.get(Run, run_id, "run")
    chunk = RunChunk(run_id=run_id, chunk_no=0, start=0)
    counts = {"passed": 0, "failed": 0, "errored": 0}
    for position, entry in enumerate(items):
        if entry is None:
            continue
        did, rep, status, scores = entry
        counts[status] += 1
        chunk.record_item(run_id=str(run_id), run_item_id=f"{run_id}-{position}", dataset_item_id=did,
                          position=position, repetition=rep, status=status, output={"n": position},
                          error="boom" if status == "errored" else None, events=[], started_at="t",
                          duration_ms=1.0, scores=scores, attempts=1, tokens=0)  # fmt: skip
    run.record_chunk(0, 0, len(items), counts, "")
    app.save(run, chunk)
    return str(run_id)


def make_items(rng: random.Random, n: int, kind: str, drop: float) -> list[tuple[str, int, str, list[dict]]]:
    """``n`` items d0..d{n-1} (two repetitions of some), some left out (``drop``: then shuffled too, else in the
    same order in every run: aligned by position); scored by ``exact`` (0/1) and ``close`` (``kind``: ``few``
    distinct values, ``many`` fractional ones)."""
    out = []
    for i in range(n):
        for rep in range(2 if i % 7 == 0 else 1):
            if rng.random() < drop:
                continue
            if rng.random() < 0.05:
                out.append((f"d{i}", rep, "errored", []))
                continue
            exact = rng.random() < 0.8
            many = round(rng.random(), rng.choice([2, 9]))
            close = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0]) if kind == "few" else many
            scores = [_score(rng, "exact", float(exact), exact), _score(rng, "close", close, close >= 0.5)]
            if rng.random() < 0.03:
                scores = scores[:1]  # a pair that only one scorer scored
            out.append((f"d{i}", rep, "passed" if exact and close >= 0.5 else "failed", scores))
    if drop:
        rng.shuffle(out)
    return out


@pytest.mark.parametrize(
    ("n", "kind", "drop"), [(60, "few", 0.1), (300, "many", 0.05), (300, "many", 0.0), (5200, "many", 0.0)]
)
def test_compare_runs_gives_the_same_json_as_pairing_every_item(services, world, n, kind, drop):
    rng = random.Random(n)
    app = services.app
    dataset = app.create_dataset("hundred")
    app.add_items(dataset.id, [{"input": {"order_id": i}, "expected_output": i} for i in range(100)])
    spec = definition(dataset.id, app.publish(dataset.id).id, world["good"], repetitions=100)  # room for 10,000
    experiment = app.create_experiment("e", "", spec).id
    base = record_run(services, experiment, make_items(rng, n, kind, drop))
    other = record_run(services, experiment, make_items(rng, n, kind, drop))
    services.catch_up()

    for scorer in ("", "exact", "close"):
        for limit in (None, 0, 1, 7):
            got = compare_runs(services, base, other, scorer=scorer, limit=limit)
            assert json.dumps(got) == json.dumps(before(services, base, other, scorer, limit)), (scorer, limit)
    full = compare_runs(services, base, other)
    assert full["newly_failing_count"] > 0 and full["newly_passing_count"] > 0
    (close,) = [row for row in full["scorers"] if row["scorer"] == "close"]
    assert close["paired_items"] > (5000 if n > 5000 else 0)
    if drop:
        assert full["only_in_base"] and full["only_in_compare"]

    # the gate's baseline rule counts the same pairs
    was = paired_pass_diffs(outcomes(services, base), outcomes(services, other))
    now = pass_diffs(services, base, other)
    assert sorted(now) == sorted(was)
    assert stats.upper_bound(now, 11) == stats.upper_bound(was, 11)
