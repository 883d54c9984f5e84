"""Paired statistics for comparing two runs: bootstrap confidence intervals, the exact McNemar test, a verdict.

Two runs are compared item by item: an item of the base run is paired with the item of the other run that has the
same dataset item and repetition. Each pair gives a difference (the other's value minus the base's: 1, 0 or -1 for
a pass, a score delta for a mean). Every figure here is a function of those differences and a seed, so the same two
runs always give the same interval (a comparison is replayable like everything else).

- :func:`bootstrap_means` resamples the pairs with replacement ``resamples`` times (percentile bootstrap of the
  mean difference; Efron and Tibshirani, *An Introduction to the Bootstrap*, ch. 13). Differences with few
  distinct values (pass/fail: -1, 0, 1) resample their counts, which costs the same for 100 or 100,000 pairs;
  more than 5,000 pairs of many distinct values (continuous scores) use the bootstrap's normal limit.
- :func:`mcnemar_exact` is the two-sided exact McNemar test of the flips: under "no change", each of the ``b + c``
  discordant pairs is a fair coin (``scipy.stats.binomtest(b, b + c).pvalue``).
- :func:`movement` says "within noise" unless the flips are significant at ``alpha``.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

from agnt5_evals.domain.lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
else:
    np = LazyModule("numpy")  # imported on first use (domain.lazy)


RESAMPLES = 2000
LEVEL = 0.95
ALPHA = 0.05
FEW = 64  # at most this many distinct differences: resample their counts, not the pairs
LARGE = 5000  # more pairs than this, of more than FEW distinct values: the normal form of the bootstrap
_CHUNK = 2_000_000  # resampled values drawn at a time (16 MB of indices), so a 100k-item run stays small


def seed_of(*parts: str) -> int:
    """A stable seed from strings (the two run ids): the same comparison always draws the same resamples."""
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def bootstrap_means(
    diffs: Sequence[float] | npt.NDArray[np.float64], seed: int, resamples: int = RESAMPLES
) -> npt.NDArray[np.float64]:
    """The means of ``resamples`` resamples (with replacement) of ``diffs``; empty when there are no pairs."""
    values = np.asarray(diffs, dtype=np.float64)
    n = values.size
    if n == 0:
        return np.empty(0)
    rng = np.random.Generator(np.random.PCG64(seed))
    distinct, counts = np.unique(values, return_counts=True)
    if distinct.size <= FEW:
        # Drawing n of the pairs with replacement draws each distinct value a multinomial number of times: the
        # same distribution, at a cost that does not grow with n (pass/fail deltas have 3 values).
        drawn = rng.multinomial(n, counts / n, size=resamples)
        return np.asarray(drawn @ distinct / n, dtype=np.float64)
    means = np.empty(resamples)
    rows = max(1, _CHUNK // n)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        picks = rng.integers(0, n, size=(stop - start, n), dtype=np.int32 if n < 2**31 else np.int64)
        means[start:stop] = values[picks].mean(axis=1)
    return means


@dataclass(frozen=True)
class Interval:
    """A paired difference with its two-sided percentile bootstrap interval (``None`` bounds: no pairs)."""

    delta: float | None
    low: float | None
    high: float | None
    n: int

    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def as_list(self) -> list[float] | None:
        return None if self.low is None or self.high is None else [self.low, self.high]


def paired_interval(
    diffs: Sequence[float] | npt.NDArray[np.float64], seed: int, level: float = LEVEL, resamples: int = RESAMPLES
) -> Interval:
    """The mean of the paired differences and its ``level`` percentile bootstrap interval.

    The pairs' order matters only to the bootstrap over pairs (at most ``LARGE`` pairs of more than ``FEW``
    distinct values); otherwise the differences may come in any order (``numpy.repeat`` of counted values): their
    counts are resampled, or their mean and standard deviation give the normal limit.
    """
    if len(diffs) == 0:
        return Interval(None, None, None, 0)
    tail = (1 - level) / 2
    values = np.asarray(diffs, dtype=np.float64)
    delta = float(np.mean(values))
    if _normal_enough(values):
        spread = NormalDist().inv_cdf(1 - tail) * float(np.std(values, ddof=1)) / math.sqrt(values.size)
        return Interval(delta, _clean(delta - spread), _clean(delta + spread), len(diffs))
    low, high = np.quantile(bootstrap_means(values, seed, resamples), [tail, 1 - tail])
    return Interval(delta, _clean(float(low)), _clean(float(high)), len(diffs))


def _normal_enough(values: npt.NDArray[np.float64]) -> bool:
    """Many pairs of many distinct values: the bootstrap distribution of the mean is normal to well within its
    resampling error, and drawing it would cost seconds; its normal form (mean +- z * standard error) is used."""
    return values.size > LARGE and np.unique(values).size > FEW


def upper_bound(diffs: Sequence[float], seed: int, alpha: float = ALPHA, resamples: int = RESAMPLES) -> float | None:
    """The one-sided ``1 - alpha`` upper confidence bound of the mean difference (None without pairs): the
    candidate is worse than the baseline by more than ``m`` at significance ``alpha`` when this bound < ``-m``."""
    if not diffs:
        return None
    values = np.asarray(diffs, dtype=np.float64)
    if _normal_enough(values):
        spread = NormalDist().inv_cdf(1 - alpha) * float(np.std(values, ddof=1)) / math.sqrt(values.size)
        return _clean(float(np.mean(values)) + spread)
    return _clean(float(np.quantile(bootstrap_means(values, seed, resamples), 1 - alpha)))


def _clean(value: float) -> float:
    """Round away float noise (a mean of 0.1s is 0.30000000000000004) so intervals print and compare cleanly."""
    return round(value, 12) + 0.0


@functools.lru_cache(maxsize=256)  # pure, and a page shown again asks for the same counts
def mcnemar_exact(newly_failing: int, newly_passing: int) -> float:
    """Two-sided exact McNemar p-value of the flips: ``P(X <= min(b, c)) * 2`` for ``X ~ Binomial(b + c, 1/2)``,
    at most 1 (1 when nothing flipped). Summed in exact integers, so 100,000 flips lose no precision."""
    b, c = newly_failing, newly_passing
    if b < 0 or c < 0:
        raise ValueError("flip counts cannot be negative")
    n, k = b + c, min(b, c)
    if n == 0 or b == c:
        return 1.0
    term, tail = 1, 1  # C(n, 0)
    for i in range(k):
        term = term * (n - i) // (i + 1)
        tail += term
    return min(1.0, 2 * tail / (1 << n))  # an int power: mypy types 2**n as Any


REGRESSION = "significant regression"
IMPROVEMENT = "significant improvement"
NOISE = "within noise"


def movement(newly_failing: int, newly_passing: int, alpha: float = ALPHA) -> tuple[str, float]:
    """The plain verdict on the pass/fail flips of two paired runs, and its McNemar p-value."""
    p = mcnemar_exact(newly_failing, newly_passing)
    if p >= alpha:
        return NOISE, p
    return (REGRESSION if newly_failing > newly_passing else IMPROVEMENT), p
