"""Statistics: the only module that imports scipy. Small pure functions; each names its test."""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

SEED = 20260101           # fixed, so a p-value or CI can be recomputed exactly from the store
PERMUTATIONS = 20000
EXACT_MAX_N = 50
# Mann-Whitney's asymptotic relative efficiency against the t-test for normal data (3/pi).
MW_ARE = 3 / math.pi


@dataclass(frozen=True)
class TestResult:
    p_value: float
    statistic: float
    method: str


@dataclass(frozen=True)
class Description:
    n: int
    median: float
    mean: float
    sd: float
    cv: float
    min: float
    max: float


def describe(values: Sequence[float]) -> Description:
    """n, median, mean, sample sd, CV, min, max in plain Python (cross-checks the SQL numbers)."""
    v = list(values)
    if not v:
        nan = float("nan")
        return Description(0, nan, nan, nan, nan, nan, nan)
    mean = statistics.fmean(v)
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    cv = sd / abs(mean) if mean else float("nan")
    return Description(len(v), statistics.median(v), mean, sd, cv, min(v), max(v))


def mann_whitney(baseline: Sequence[float], candidate: Sequence[float], *,
                 lower_is_better: bool) -> TestResult:
    """One-sided Mann-Whitney U: is the candidate stochastically better than the baseline?

    Alternative: candidate < baseline when lower_is_better, candidate > baseline otherwise.
    Compare the p-value with the contract's alpha (default 0.05). Without ties and with both
    n <= 50 the exact null distribution is used; with ties scipy's exact mode would silently
    ignore them, so a permutation test (fixed seed, exact when all arrangements fit) is used.
    Large samples use the normal approximation with tie correction.
    """
    from scipy import stats

    alternative = "less" if lower_is_better else "greater"
    ties = len(set(baseline) | set(candidate)) < len(baseline) + len(candidate)
    if max(len(baseline), len(candidate)) > EXACT_MAX_N:
        method, label = "asymptotic", "asymptotic"
    elif ties:
        method = stats.PermutationMethod(n_resamples=PERMUTATIONS, rng=SEED)
        label = "permutation"
    else:
        method, label = "exact", "exact"
    res = stats.mannwhitneyu(list(candidate), list(baseline), alternative=alternative,
                             method=method)
    return TestResult(float(res.pvalue), float(res.statistic), label)


def mean_2sigma(baseline: Sequence[float], candidate: Sequence[float], *,
                lower_is_better: bool) -> TestResult:
    """The 2-sigma rule, one-sided: the candidate's mean lies beyond the baseline mean ± 2 sd.

    sd is the baseline's sample standard deviation. The rule decides on the statistic (z
    above the look's bar, 2 for a single look), not on alpha; the p reported is the one-sided
    normal tail of the observed z, for information.
    """
    from scipy import stats

    b = describe(baseline)
    c_mean = statistics.fmean(candidate)
    gain = (b.mean - c_mean) if lower_is_better else (c_mean - b.mean)
    if b.sd == 0:
        return TestResult(0.0 if gain > 0 else 1.0, math.inf if gain > 0 else 0.0, "2sigma")
    z = gain / b.sd
    return TestResult(float(stats.norm.sf(z)), z, "2sigma")


def bootstrap_median_ratio_ci(baseline: Sequence[float], candidate: Sequence[float], *,
                              confidence: float = 0.95, n_resamples: int = 2000,
                              seed: int = SEED) -> tuple[float | None, float | None]:
    """Percentile bootstrap CI of median(candidate) / median(baseline), two independent samples.

    Percentile rather than BCa: BCa's jackknife degenerates at n = 5. None when undefined.
    """
    import warnings

    import numpy as np
    from scipy import stats

    b, c = np.asarray(baseline, float), np.asarray(candidate, float)
    if len(b) == 0 or len(c) == 0 or np.median(b) == 0:
        return None, None
    ratio = float(np.median(c) / np.median(b))
    if np.all(b == b[0]) and np.all(c == c[0]):
        return ratio, ratio

    def stat(x, y, axis):
        return np.median(x, axis=axis) / np.median(y, axis=axis)

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        res = stats.bootstrap((c, b), stat, n_resamples=n_resamples, vectorized=True,
                              paired=False, confidence_level=confidence, method="percentile",
                              rng=seed)
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None, None
    return lo, hi


def mw_min_p(n1: int, n2: int) -> float:
    """The smallest one-sided exact Mann-Whitney p with n1 vs n2 runs: 1 / C(n1+n2, n1)."""
    return 1.0 / math.comb(n1 + n2, n1)


def mw_min_n(alpha: float) -> int:
    """The smallest equal n per side whose smallest one-sided Mann-Whitney p is below alpha."""
    n = 1
    while mw_min_p(n, n) >= alpha:
        n += 1
    return n


def _z(q: float) -> float:
    return statistics.NormalDist().inv_cdf(q)


def min_detectable_effect_pct(cv: float, n: int, alpha: float, power: float = 0.8) -> float:
    """Approximate smallest change of the median (%) detectable with n runs per side.

    Normal approximation for a one-sided two-sample test at this alpha and power,
    (z(1-alpha) + z(power)) * cv * sqrt(2/n), inflated for Mann-Whitney's efficiency (3/pi).
    inf when n is too small for the exact test to ever reach alpha.
    """
    if mw_min_p(n, n) >= alpha:
        return math.inf
    return 100.0 * (_z(1 - alpha) + _z(power)) * cv * math.sqrt(2.0 / (n * MW_ARE))


def n_for_effect(cv: float, effect_pct: float, alpha: float, power: float = 0.8) -> int:
    """The smallest n per side whose min_detectable_effect_pct is at most effect_pct."""
    floor = mw_min_n(alpha)
    if effect_pct <= 0:
        return floor
    k = (_z(1 - alpha) + _z(power)) * cv / (effect_pct / 100.0)
    n = max(floor, math.ceil(2.0 * k * k / MW_ARE))
    while min_detectable_effect_pct(cv, n, alpha, power) > effect_pct:  # guard rounding
        n += 1
    return n
