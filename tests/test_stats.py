"""tvlens.evaluation.stats against reference values: Wilson, McNemar, Fisher, the bootstrap,
spreads."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tvlens.evaluation.stats import (
    Z95,
    Spread,
    bootstrap_mean_interval,
    fisher_exact,
    mcnemar_exact,
    wilson_interval,
)


def wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """statsmodels' proportion_confint(method="wilson"), written out."""
    p = k / n
    center = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return center - half, center + half


# ---- Wilson --------------------------------------------------------------------------------
def test_wilson_45_of_50_matches_the_reference() -> None:
    lo, hi = wilson_interval(45, 50)
    assert (round(lo, 4), round(hi, 4)) == (0.7864, 0.9565)
    assert (lo, hi) == pytest.approx(wilson_by_hand(45, 50), abs=1e-12)
    assert pytest.approx(1.959963984540054) == Z95


@pytest.mark.parametrize("k,n", [(0, 1), (0, 50), (1, 50), (25, 50), (49, 50), (50, 50), (3, 7)])
def test_wilson_contains_the_estimate_and_stays_in_0_1(k: int, n: int) -> None:
    lo, hi = wilson_interval(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert hi - lo > 0  # never a zero-width claim of certainty, even at 0/n and n/n
    assert (lo, hi) == pytest.approx(wilson_by_hand(k, n), abs=1e-12)


def test_wilson_shrinks_with_n() -> None:
    widths = [np.subtract(*wilson_interval(3 * m, 10 * m)[::-1]) for m in (1, 5, 10, 100)]
    assert all(a > b for a, b in itertools.pairwise(widths))
    assert wilson_interval(0, 50)[0] == 0.0 and wilson_interval(50, 50)[1] == 1.0


def test_wilson_refuses_bad_counts_and_gives_nan_for_nothing_scored() -> None:
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="k cannot exceed n"):
        wilson_interval(6, 5)
    with pytest.raises(ValueError, match="k must be >= 0"):
        wilson_interval(-1, 5)
    with pytest.raises(TypeError, match="int count"):
        wilson_interval(True, 5)
    assert wilson_interval(np.int64(45), np.int64(50)) == wilson_interval(45, 50)


# ---- McNemar -------------------------------------------------------------------------------
def test_mcnemar_identical_predictions_give_p_1() -> None:
    xs = [True, False, True, True, False]
    t = mcnemar_exact(xs, xs)
    assert (t.b, t.c, t.n, t.p, t.difference) == (0, 0, 5, 1.0, 0.0)
    both_wrong = mcnemar_exact([False] * 50, [False] * 50)
    assert both_wrong.p == 1.0


def test_mcnemar_b10_c2_matches_the_binomial_test() -> None:
    a = [True] * 10 + [False] * 2 + [True] * 30 + [False] * 8
    b = [False] * 10 + [True] * 2 + [True] * 30 + [False] * 8
    t = mcnemar_exact(a, b)
    assert (t.b, t.c, t.n) == (10, 2, 50)
    assert t.difference == pytest.approx(8 / 50)
    # by hand: 2 * P(X <= 2), X ~ Binomial(12, 1/2) = 2 * (1 + 12 + 66) / 4096
    assert t.p == pytest.approx(2 * 79 / 4096, abs=1e-15)
    scipy_stats = pytest.importorskip("scipy.stats")
    assert t.p == pytest.approx(scipy_stats.binomtest(2, 12, 0.5).pvalue, rel=1e-12)
    assert mcnemar_exact(b, a).p == t.p and mcnemar_exact(b, a).difference == -t.difference


def test_mcnemar_balanced_disagreement_is_p_1_and_lengths_must_match() -> None:
    assert mcnemar_exact([True, False] * 5, [False, True] * 5).p == 1.0
    with pytest.raises(ValueError, match="equal-length"):
        mcnemar_exact([True, False], [True])
    d = mcnemar_exact([True], [False]).to_dict()
    assert d["test"] == "mcnemar_exact" and d["paired"] is True and d["p"] == 1.0


# ---- Fisher --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "k_a,n_a,k_b,n_b",
    [(40, 50, 2, 100), (29, 50, 2, 100), (3, 10, 1, 12), (5, 50, 0, 100), (12, 50, 20, 100)],
)
def test_fisher_matches_scipy(k_a: int, n_a: int, k_b: int, n_b: int) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    t = fisher_exact(k_a, n_a, k_b, n_b)
    ref = scipy_stats.fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]]).pvalue
    assert t.p == pytest.approx(ref, rel=1e-9)
    assert t.difference == pytest.approx(k_a / n_a - k_b / n_b)


def test_fisher_by_hand_and_degenerate_tables() -> None:
    # [[1, 0], [0, 1]]: both tables with x=0 and x=1 have probability 1/2 -> p = 1
    assert fisher_exact(1, 1, 0, 1).p == pytest.approx(1.0)
    # [[3, 0], [0, 3]]: P = 1 / C(6, 3) for each of the two extreme tables -> p = 0.1
    assert fisher_exact(3, 3, 0, 3).p == pytest.approx(0.1)
    assert fisher_exact(0, 50, 0, 100).p == 1.0 and fisher_exact(50, 50, 100, 100).p == 1.0
    assert fisher_exact(0, 0, 3, 5).p == 1.0 and math.isnan(fisher_exact(0, 0, 3, 5).difference)
    assert fisher_exact(2, 5, 1, 5).to_dict()["paired"] is False


# ---- the bootstrap -------------------------------------------------------------------------
def test_bootstrap_is_deterministic_contains_the_mean_and_shrinks_with_n() -> None:
    counts = [(10, 50), (30, 50), (45, 50), (2, 50)]
    mean = np.mean([k / n for k, n in counts])
    a, b = bootstrap_mean_interval(counts), bootstrap_mean_interval(counts)
    assert a == b and a[0] <= mean <= a[1]
    big = [(10 * k, 10 * n) for k, n in counts]
    lo, hi = bootstrap_mean_interval(big)
    assert lo <= mean <= hi and hi - lo < (a[1] - a[0]) / 2


def test_bootstrap_of_one_task_is_close_to_wilson() -> None:
    lo, hi = bootstrap_mean_interval([(25, 100)])
    w = wilson_interval(25, 100)
    assert abs(lo - w[0]) < 0.03 and abs(hi - w[1]) < 0.03


def test_bootstrap_equals_resampling_the_examples() -> None:
    # Binomial(n, k/n)/n is the accuracy of n draws with replacement: check the quantiles
    # against an explicit resampling of 0/1 outcomes.
    counts = [(7, 20), (15, 20), (3, 30)]
    rng = np.random.default_rng(123)
    outcomes = [np.array([1] * k + [0] * (n - k)) for k, n in counts]
    reps = [
        np.mean([rng.choice(o, size=o.size, replace=True).mean() for o in outcomes])
        for _ in range(4000)
    ]
    ref = np.quantile(reps, [0.025, 0.975])
    assert bootstrap_mean_interval(counts) == pytest.approx(tuple(ref), abs=0.02)


def test_bootstrap_falls_back_to_wilson_where_nothing_varies() -> None:
    lo, hi = bootstrap_mean_interval([(0, 100)] * 4)
    assert lo == 0.0 and hi == pytest.approx(wilson_by_hand(0, 400)[1])
    assert bootstrap_mean_interval([(50, 50), (50, 50)])[1] == 1.0


def test_bootstrap_over_tasks_is_wider_and_bad_input_is_refused() -> None:
    counts = [(5, 50), (45, 50), (25, 50), (40, 50)]
    fixed = bootstrap_mean_interval(counts)
    both = bootstrap_mean_interval(counts, resample_tasks=True)
    assert both[1] - both[0] > fixed[1] - fixed[0]
    assert all(math.isnan(x) for x in bootstrap_mean_interval([]))
    with pytest.raises(ValueError, match="n = 0"):
        bootstrap_mean_interval([(0, 0)])
    with pytest.raises(ValueError, match="level"):
        bootstrap_mean_interval(counts, level=95.0)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_mean_interval(counts, n_boot=0)


# ---- spread across seeds -------------------------------------------------------------------
def test_spread() -> None:
    s = Spread((0.5, 0.6, 0.7))
    assert s.mean == pytest.approx(0.6) and s.sd == pytest.approx(0.1)
    d = s.to_dict()
    assert (d["min"], d["max"], d["values"]) == (0.5, 0.7, [0.5, 0.6, 0.7])
    assert math.isnan(Spread((0.4,)).sd) and math.isnan(Spread(()).mean)
