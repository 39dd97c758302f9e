"""Uncertainty of accuracies: intervals for one proportion and for means, and tests of two modes.

Pure numpy and the standard library (no scipy), so the numbers in ``results.json`` do not
depend on an optional package.

- :func:`wilson_interval`: the 95% interval of one accuracy (``k`` of ``n`` correct). Wilson's
  score interval is used rather than the normal approximation ``p ± 1.96·sqrt(p(1-p)/n)``:
  it never leaves ``[0, 1]``, it is not zero-width at 0/50 or 50/50 (the normal one claims
  certainty there), and its coverage stays close to 95% for the small ``n`` (50 test
  examples) of the paper's protocol, where the exact Clopper-Pearson interval is needlessly
  wide.
- :func:`bootstrap_mean_interval`: the percentile bootstrap of a mean of accuracies over
  tasks (per category, overall), with a fixed seed; Wilson's where every task sits at 0 or 1,
  where the bootstrap has nothing to resample.
- :func:`mcnemar_exact`: two modes scored on the same examples (paired): the exact McNemar
  test, a binomial test on the examples where they disagree.
- :func:`fisher_exact`: two modes scored on different examples (unpaired): Fisher's exact
  test on the 2x2 table of correct / wrong counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The normal quantile of a two-sided 95% interval.
Z95 = 1.959963984540054
#: A count: a Python or numpy int (bools are refused at run time).
Count = int | np.integer


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int count, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def _check_kn(k: Any, n: Any) -> tuple[int, int]:
    k, n = _count("k", k), _count("n", n)
    if k > n:
        raise ValueError(f"k = {k} correct of n = {n}: k cannot exceed n")
    return k, n


def wilson_interval(k: Count, n: Count, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for ``k`` successes of ``n`` (95% by default).

    Returns ``(nan, nan)`` for ``n = 0`` (nothing was scored).

    Example:
        >>> tuple(round(x, 4) for x in wilson_interval(45, 50))
        (0.7864, 0.9565)
    """
    k, n = _check_kn(k, n)
    if n == 0:
        return (math.nan, math.nan)
    return _wilson(k / n, n, z)


def _wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    z2 = z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # the interval contains p exactly; clamp only rounding at the ends (0/n, n/n)
    return (max(0.0, min(p, center - half)), min(1.0, max(p, center + half)))


def bootstrap_mean_interval(
    counts: Sequence[tuple[Count, Count]],
    *,
    n_boot: int = 10_000,
    level: float = 0.95,
    seed: int = 0,
    resample_tasks: bool = False,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over tasks of each task's accuracy.

    Each replicate resamples every task's scored examples with replacement and averages
    the tasks' accuracies. A task's resampled accuracy is drawn as ``Binomial(n, k/n) / n``,
    which is exactly the distribution of the accuracy of ``n`` draws with replacement from
    its ``k`` correct and ``n - k`` wrong examples, so only the counts are needed.

    Args:
        counts: ``(k correct, n scored)`` per task; tasks with ``n = 0`` are not allowed.
        n_boot: bootstrap replicates.
        level: the interval's coverage.
        seed: the generator's seed: the same counts always give the same interval.
        resample_tasks: also resample the tasks with replacement (two-stage bootstrap):
            the interval then covers "tasks like these" rather than this fixed task set.
            Off by default: the paper's tasks are the set reported on.

    Returns:
        ``(low, high)``, widened if needed to contain the mean itself; ``(nan, nan)``
        for no tasks. Where every task is at 0% (or every task at 100%, or each at one of
        the two) there is no variation to resample and the percentile interval would be
        the single point; Wilson's interval of the mean with ``n`` = all examples is
        returned instead (``[0, 0.0095]`` for 400 examples all wrong).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1, got {n_boot!r}")
    checked = [_check_kn(k, n) for k, n in counts]
    if not checked:
        return (math.nan, math.nan)
    if any(n == 0 for _, n in checked):
        raise ValueError(f"a task with n = 0 scored examples has no accuracy: {checked}")
    k = np.array([c[0] for c in checked], dtype=np.int64)
    n = np.array([c[1] for c in checked], dtype=np.int64)
    point = float(np.mean(k / n))
    if np.all((k == 0) | (k == n)):
        return _wilson(point, int(n.sum()))
    rng = np.random.default_rng(seed)
    if resample_tasks:
        idx = rng.integers(0, len(k), size=(n_boot, len(k)))
        k, n = k[idx], n[idx]
    else:
        k, n = np.broadcast_to(k, (n_boot, len(k))), np.broadcast_to(n, (n_boot, len(k)))
    reps = (rng.binomial(n, k / n) / n).mean(axis=1)
    alpha = 1 - level
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return (max(0.0, min(point, float(lo))), min(1.0, max(point, float(hi))))


def _binom_tail_two_sided(m: int, n: int) -> float:
    """``P(X <= m) * 2`` (capped at 1) for ``X ~ Binomial(n, 1/2)``, ``m <= n / 2``; exact."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(m + 1))
    return min(1.0, 2 * tail / 2**n)


@dataclass(frozen=True)
class PairedTest:
    """The exact McNemar test of mode A vs mode B on the same ``n`` examples.

    Attributes:
        b: examples A got right and B got wrong.
        c: examples A got wrong and B got right.
        n: examples scored by both.
        p: two-sided p-value (1.0 when A and B never disagree).
    """

    b: int
    c: int
    n: int
    p: float

    @property
    def difference(self) -> float:
        """Accuracy of A minus accuracy of B, ``(b - c) / n``."""
        return (self.b - self.c) / self.n if self.n else math.nan

    def to_dict(self) -> dict[str, Any]:
        """The JSON record written to ``results.json``."""
        return {"test": "mcnemar_exact", "paired": True, "b": self.b, "c": self.c, "n": self.n,
                "difference": self.difference, "p": self.p}  # fmt: skip


def mcnemar_exact(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> PairedTest:
    """Exact McNemar test: are modes A and B equally accurate on these examples?

    Only the discordant examples count: under the null each is equally likely to favour
    A or B, so ``b ~ Binomial(b + c, 1/2)``; the p-value is the two-sided binomial tail.
    Identical predictions (``b = c = 0``) give ``p = 1``.

    Args:
        a_correct: per example, whether A was right.
        b_correct: the same examples, whether B was right (same order).
    """
    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"paired test needs two equal-length 1-d sequences, got {a.shape} and {b.shape}"
        )
    nb, nc = int(np.sum(a & ~b)), int(np.sum(~a & b))
    return PairedTest(b=nb, c=nc, n=int(a.size), p=_binom_tail_two_sided(min(nb, nc), nb + nc))


@dataclass(frozen=True)
class UnpairedTest:
    """Fisher's exact test of ``k_a / n_a`` (mode A) vs ``k_b / n_b`` (mode B)."""

    k_a: int
    n_a: int
    k_b: int
    n_b: int
    p: float

    @property
    def difference(self) -> float:
        """Accuracy of A minus accuracy of B."""
        if not (self.n_a and self.n_b):
            return math.nan
        return self.k_a / self.n_a - self.k_b / self.n_b

    def to_dict(self) -> dict[str, Any]:
        """The JSON record written to ``results.json``."""
        return {"test": "fisher_exact", "paired": False, "k_a": self.k_a, "n_a": self.n_a,
                "k_b": self.k_b, "n_b": self.n_b, "difference": self.difference,
                "p": self.p}  # fmt: skip


def fisher_exact(k_a: Count, n_a: Count, k_b: Count, n_b: Count) -> UnpairedTest:
    """Fisher's exact two-sided test for two accuracies on different examples.

    Conditional on the margins, the number correct in A is hypergeometric; the p-value
    sums the probabilities of all tables no more likely than the one observed (the
    convention of ``scipy.stats.fisher_exact``), in exact integer arithmetic.
    """
    k_a, n_a = _check_kn(k_a, n_a)
    k_b, n_b = _check_kn(k_b, n_b)
    total, right = n_a + n_b, k_a + k_b
    if total == 0 or right in (0, total) or 0 in (n_a, n_b):
        return UnpairedTest(k_a, n_a, k_b, n_b, 1.0)
    lo, hi = max(0, n_a - (total - right)), min(right, n_a)
    weight = {x: math.comb(right, x) * math.comb(total - right, n_a - x) for x in range(lo, hi + 1)}
    observed = weight[k_a]
    p = sum(w for w in weight.values() if w <= observed) / math.comb(total, n_a)
    return UnpairedTest(k_a, n_a, k_b, n_b, min(1.0, p))


@dataclass(frozen=True)
class Spread:
    """One accuracy across seeds: mean, sample standard deviation, range."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        """The mean over seeds."""
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def sd(self) -> float:
        """The sample standard deviation (``ddof=1``); ``nan`` for fewer than 2 seeds."""
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """``{"mean", "sd", "min", "max", "values"}`` for ``seeds.json``."""
        return {
            "mean": self.mean,
            "sd": self.sd,
            "min": min(self.values, default=math.nan),
            "max": max(self.values, default=math.nan),
            "values": list(self.values),
        }
