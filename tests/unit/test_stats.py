"""The paired statistics of `runs compare` and the baseline gate, checked against scipy and by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from agnt5_evals.domain import stats
from agnt5_evals.domain.compare import compare


@pytest.mark.parametrize(
    ("b", "c"), [(0, 0), (1, 0), (0, 5), (3, 9), (9, 3), (10, 10), (25, 40), (1, 30), (200, 260), (1000, 1100)]
)
def test_mcnemar_exact_is_scipys_two_sided_binomial_test(b: int, c: int) -> None:
    expected = 1.0 if b + c == 0 else scipy_stats.binomtest(b, b + c, 0.5).pvalue
    assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_mcnemar_keeps_precision_on_huge_counts() -> None:
    assert stats.mcnemar_exact(50_000, 50_400) == pytest.approx(scipy_stats.binomtest(50_000, 100_400).pvalue)
    assert 0 < stats.mcnemar_exact(40_000, 60_000) < 1e-300 or stats.mcnemar_exact(40_000, 60_000) == 0.0


@given(st.integers(0, 400), st.integers(0, 400))
@settings(max_examples=200, deadline=None)
def test_mcnemar_is_a_symmetric_probability(b: int, c: int) -> None:
    p = stats.mcnemar_exact(b, c)
    assert 0 <= p <= 1
    assert p == stats.mcnemar_exact(c, b)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bootstrap_interval_matches_scipys_percentile_bootstrap(seed: int) -> None:
    rng = np.random.default_rng(seed)
    diffs = list(rng.normal(0.1, 0.5, size=300))
    ours = stats.paired_interval(diffs, seed=seed, resamples=4000)
    theirs = scipy_stats.bootstrap(
        (np.asarray(diffs),), np.mean, n_resamples=4000, method="percentile", confidence_level=0.95, random_state=seed
    ).confidence_interval
    assert ours.delta == pytest.approx(float(np.mean(diffs)))
    width = theirs.high - theirs.low
    assert ours.low == pytest.approx(theirs.low, abs=0.05 * width)
    assert ours.high == pytest.approx(theirs.high, abs=0.05 * width)


def test_bootstrap_of_flips_is_exact_when_nothing_moved() -> None:
    interval = stats.paired_interval([0.0] * 500, seed=7)
    assert (interval.delta, interval.low, interval.high, interval.n) == (0.0, 0.0, 0.0, 500)
    assert not interval.excludes_zero()


def test_no_pairs_give_no_interval() -> None:
    assert stats.paired_interval([], seed=1) == stats.Interval(None, None, None, 0)
    assert stats.upper_bound([], seed=1) is None


def test_the_same_comparison_always_gives_the_same_interval() -> None:
    diffs = [1.0, 0.0, -1.0, 0.0, 1.0, 1.0, 0.0] * 20
    seed = stats.seed_of("run-a", "run-b")
    assert stats.paired_interval(diffs, seed) == stats.paired_interval(diffs, stats.seed_of("run-a", "run-b"))


@given(
    st.lists(st.tuples(st.sampled_from(["passed", "failed", "errored"]), st.floats(0, 1)), max_size=200),
    st.integers(0, 2**32),
)
@settings(max_examples=100, deadline=None)
def test_identical_runs_are_never_significant(outcomes: list[tuple[str, float]], seed: int) -> None:
    items = [
        {"dataset_item_id": f"d{i}", "repetition": 0, "run_item_id": f"r{i}", "status": status,
         "scores": {"s": score}, "passed": {"s": status == "passed"}}
        for i, (status, score) in enumerate(outcomes)
    ]  # fmt: skip
    result = compare(items, [dict(item) for item in items], seed)
    assert result["verdict"] == stats.NOISE and result["mcnemar_p_value"] == 1.0
    assert result["pass_rate_ci95"] in (None, [0.0, 0.0])
    for row in result["scorers"]:
        assert row["mean_delta_ci95"] == [0.0, 0.0] and row["pass_rate_ci95"] == [0.0, 0.0]


def test_interval_covers_the_true_delta_at_about_the_nominal_rate() -> None:
    """Synthetic paired pass/fail data with a known true pass-rate delta: over 400 seeds the 95% interval holds it
    about 95% of the time (binomial sampling error of the rate over 400 trials is about 1.1 points)."""
    p_base, p_other, trials, n = 0.7, 0.62, 400, 150
    hits = 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        base = rng.random(n) < p_base
        other = rng.random(n) < p_other
        diffs = list(other.astype(float) - base.astype(float))
        interval = stats.paired_interval(diffs, seed=seed, resamples=1000)
        assert interval.low is not None and interval.high is not None
        hits += interval.low <= p_other - p_base <= interval.high
    assert 0.90 <= hits / trials <= 0.985


def test_upper_bound_finds_a_real_regression_and_spares_noise() -> None:
    rng = np.random.default_rng(5)
    worse = list((rng.random(400) < 0.6).astype(float) - (rng.random(400) < 0.8).astype(float))
    bound = stats.upper_bound(worse, seed=1)
    assert bound is not None and bound < -0.02
    same = [0.0] * 380 + [1.0] * 10 + [-1.0] * 10
    same_bound = stats.upper_bound(same, seed=1)
    assert same_bound is not None and same_bound > -0.02


@pytest.mark.parametrize(
    ("b", "c", "verdict"),
    [(0, 0, stats.NOISE), (3, 1, stats.NOISE), (20, 2, stats.REGRESSION), (2, 20, stats.IMPROVEMENT)],
)
def test_verdict_follows_the_mcnemar_test(b: int, c: int, verdict: str) -> None:
    assert stats.movement(b, c)[0] == verdict


def test_many_continuous_pairs_use_the_normal_limit_of_the_bootstrap() -> None:
    rng = np.random.default_rng(11)
    diffs = list(rng.normal(0.02, 0.3, size=6000))
    ours = stats.paired_interval(diffs, seed=1)
    theirs = scipy_stats.bootstrap(
        (np.asarray(diffs),), np.mean, n_resamples=2000, method="percentile", random_state=1
    ).confidence_interval
    width = theirs.high - theirs.low
    assert ours.low == pytest.approx(theirs.low, abs=0.05 * width)
    assert ours.high == pytest.approx(theirs.high, abs=0.05 * width)
    bound = stats.upper_bound(diffs, seed=1, alpha=0.05)
    assert bound is not None and ours.delta is not None and ours.delta < bound < ours.high  # type: ignore[operator]
