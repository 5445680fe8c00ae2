"""Statistics: p-values equal scipy's on the same data; the arithmetic scoping relies on."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sp

from perfgate import power, stats


def test_exact_mann_whitney_without_ties_is_scipys():
    base = [1.00, 1.02, 0.99, 1.01, 1.03]
    cand = [0.80, 0.82, 0.79, 0.81, 0.83]
    r = stats.mann_whitney(base, cand, lower_is_better=True)
    assert r.method == "exact"
    assert r.p_value == sp.mannwhitneyu(cand, base, alternative="less", method="exact").pvalue
    assert r.p_value == pytest.approx(1 / 252)


def test_one_sided_direction():
    base, worse = [1.0, 1.1, 1.2, 1.3, 1.4], [2.0, 2.1, 2.2, 2.3, 2.4]
    assert stats.mann_whitney(base, worse, lower_is_better=True).p_value > 0.99
    assert stats.mann_whitney(base, worse, lower_is_better=False).p_value < 0.01


def test_ties_use_a_reproducible_permutation_test():
    base = [1.0, 1.0, 1.1, 1.2, 1.2]
    cand = [0.9, 1.0, 0.9, 0.8, 1.0]
    r = stats.mann_whitney(base, cand, lower_is_better=True)
    assert r.method == "permutation"
    expected = sp.mannwhitneyu(cand, base, alternative="less", method=sp.PermutationMethod(
        n_resamples=stats.PERMUTATIONS, rng=stats.SEED)).pvalue
    assert r.p_value == expected
    assert stats.mann_whitney(base, cand, lower_is_better=True).p_value == r.p_value


def test_mean_2sigma():
    base = [1.0, 1.1, 0.9, 1.0, 1.0]
    assert stats.mean_2sigma(base, [0.5] * 5, lower_is_better=True).statistic > 2
    assert stats.mean_2sigma(base, [0.95] * 5, lower_is_better=True).statistic < 2
    assert stats.mean_2sigma([1.0] * 5, [2.0] * 5, lower_is_better=False).statistic > 2


def test_feasibility_arithmetic():
    assert power.mw_min_p(3, 3) == 0.05
    assert power.mw_min_n(0.05) == 4
    assert power.mw_min_n(0.01) == 5
    assert math.isinf(power.min_detectable_effect_pct(0.05, 3, 0.05))
    a, b = (power.min_detectable_effect_pct(0.05, n, 0.05) for n in (5, 20))
    assert a > b > 0
    assert power.min_detectable_effect_pct(0.10, 10, 0.05) > power.min_detectable_effect_pct(
        0.05, 10, 0.05)
    n = power.n_for_effect(0.10, 5.0, 0.05)
    assert power.min_detectable_effect_pct(0.10, n, 0.05) <= 5.0
    assert power.min_detectable_effect_pct(0.10, n - 1, 0.05) > 5.0 or n == power.mw_min_n(0.05)


def test_bootstrap_ci_contains_the_ratio_and_survives_degenerate_data():
    base = [1.0, 1.1, 0.9, 1.05, 0.95, 1.02]
    cand = [0.5, 0.55, 0.45, 0.52, 0.48, 0.51]
    lo, hi = stats.bootstrap_median_ratio_ci(base, cand)
    ratio = sp.scoreatpercentile(cand, 50) / sp.scoreatpercentile(base, 50)
    assert lo <= ratio <= hi
    assert stats.bootstrap_median_ratio_ci([2.0] * 5, [1.0] * 5) == (0.5, 0.5)
    assert stats.bootstrap_median_ratio_ci([0.0] * 5, [1.0] * 5) == (None, None)
    assert stats.bootstrap_median_ratio_ci(base, cand) == (lo, hi)  # fixed seed


def test_describe():
    d = stats.describe([1.0, 2.0, 3.0])
    assert (d.n, d.median, d.mean, d.sd, d.min, d.max) == (3, 2.0, 2.0, 1.0, 1.0, 3.0)
    assert d.cv == 0.5
    assert stats.describe([]).n == 0


def test_same_code_disagree_only_far_beyond_the_noise():
    quiet = [0.42, 0.43, 0.41, 0.42, 0.44]
    assert stats.same_code_disagree(quiet, [0.14, 0.15, 0.14, 0.13, 0.14]) == pytest.approx(
        0.14 / 0.42, rel=0.01)
    assert stats.same_code_disagree(quiet, [0.45, 0.46, 0.44, 0.47, 0.45]) is None  # 7%: noise
    noisy = [0.3, 0.5, 0.4, 0.6, 0.35]
    assert stats.same_code_disagree(noisy, [0.55, 0.7, 0.5, 0.8, 0.6]) is None  # within its CV
    assert stats.same_code_disagree([1.0, 1.0, 1.0], [1.3, 1.3, 1.3]) is not None  # exact metric
    assert stats.same_code_disagree([1.0], [3.0]) is None                       # too few runs


# -- a family of tests (suites) -------------------------------------------------------------

def test_holm_matches_its_step_down_definition():
    from perfgate.stats import holm

    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> max(0.06, 0.04) = 0.06
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]) == [] and holm([0.9, 0.9]) == [1.0, 1.0]


def test_bh_is_scipys_false_discovery_control():
    from perfgate.stats import adjust, benjamini_hochberg

    p = [0.01, 0.04, 0.03, 0.005]
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust(p, "none") == p


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=30))
def test_corrections_never_make_a_p_value_smaller_and_holm_is_the_strictest(p):
    from perfgate.stats import benjamini_hochberg, holm

    h, b = holm(p), benjamini_hochberg(p)
    for raw, hp, bp in zip(p, h, b):
        assert raw <= bp + 1e-12 and bp <= hp + 1e-12 and hp <= 1.0


def test_geomean_ratio_and_its_bootstrap_interval():
    import random

    from perfgate.stats import geomean_ratio

    rng = random.Random(5)
    base = [[(1 + j) * rng.gauss(1, 0.02) for j in range(8)] for _ in range(10)]
    cand = [[(1 + j) * rng.gauss(1, 0.02) * (0.5 if j == 0 else 1.0) for j in range(8)]
            for _ in range(10)]
    g = geomean_ratio(base, cand)
    assert g.ratio == pytest.approx(0.5 ** (1 / 8), rel=0.02)
    assert g.ci_low < g.ratio < g.ci_high < 1 and g.p_better < 0.01 and g.p_worse > 0.99
    same = geomean_ratio(base, base)
    assert same.ratio == pytest.approx(1.0) and same.ci_low <= 1 <= same.ci_high
    assert geomean_ratio([], cand) is None and geomean_ratio(base, [r[:3] for r in cand]) is None


def test_planning_a_tiny_effect_is_a_big_number_not_an_overflow():
    # A 0.1% threshold on runs that vary 10% needs ~130,000 runs a side. The Mann-Whitney floor
    # took 1 / C(2n, n) exactly, which overflowed a float (a traceback from scoping's power
    # line, and from a gate's runs hint) and took seconds to compute for such n.
    import time

    t0 = time.perf_counter()
    n = power.n_for_effect(0.10, 0.1, 0.05)
    assert 100_000 < n < 200_000 and time.perf_counter() - t0 < 1.0
    assert power.mw_min_p(600, 600) == 0.0 and 0 < power.mw_min_p(500, 500) < 1e-290
    assert power.mw_min_p(3, 3) == 0.05                       # small n stay exact
