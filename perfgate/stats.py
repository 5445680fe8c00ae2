"""Statistics: the only module that imports scipy. Small pure functions; each names its test.

How many runs a test needs (its floors and power) is plain arithmetic, in perfgate.power."""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

# The tests a gate can judge by (contract significance.test, bisect --test): named once here.
Test = Literal["mann_whitney", "wilcoxon", "mean_2sigma"]
TESTS: tuple[str, ...] = get_args(Test)

SEED = 20260101           # fixed, so a p-value or CI can be recomputed exactly from the store
PERMUTATIONS = 20000
EXACT_MAX_N = 50


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


# What a verdict's reason calls the rank tests (the 2-sigma rule has no floor, no entry).
RANK_TEST_NAMES = {"mann_whitney": "Mann-Whitney",
                   "wilcoxon": "Wilcoxon signed-rank (paired runs)"}


def _positive(baseline: Sequence[float], candidate: Sequence[float]) -> bool:
    return all(x > 0 for x in baseline) and all(x > 0 for x in candidate)


def pair_logs(baseline: Sequence[float], candidate: Sequence[float]) -> list[float]:
    """log(candidate_i / baseline_i) for runs matched by their index, the i-th run of each side:
    interleaved runs (ABBA) put them next to each other in time, so a drift of the machine
    moves both and cancels in the ratio. Values that are not all positive give differences in
    units of |median(baseline)| instead. Unmatched runs at the end are left out."""
    n = min(len(baseline), len(candidate))
    b, c = list(baseline)[:n], list(candidate)[:n]
    if _positive(b, c):
        return [math.log(y / x) for x, y in zip(b, c)]
    scale = abs(statistics.median(b)) or 1.0
    return [(y - x) / scale for x, y in zip(b, c)]


def _pair_ratio(d: float, baseline: Sequence[float], candidate: Sequence[float]) -> float:
    """A value on pair_logs' scale back as a candidate / baseline ratio."""
    if _positive(baseline, candidate):
        return math.exp(d)
    return 1.0 + d if statistics.median(baseline) >= 0 else 1.0 - d


def wilcoxon(baseline: Sequence[float], candidate: Sequence[float], *,
             lower_is_better: bool) -> TestResult:
    """One-sided Wilcoxon signed-rank test on the paired log ratios (pair_logs): is the
    candidate better than the baseline run for run? Needs runs measured interleaved, as the
    gate and a bisection measure them. Exact null distribution up to 50 pairs without zeros
    or ties, else the normal approximation with scipy's zero and tie handling."""
    from scipy import stats

    d = pair_logs(baseline, candidate)
    if not d or all(x == 0 for x in d):
        return TestResult(1.0, 0.0, "exact")
    alternative = "less" if lower_is_better else "greater"
    clean = 0 not in d and len({abs(x) for x in d}) == len(d)
    method = "exact" if clean and len(d) <= EXACT_MAX_N else "approx"
    res = stats.wilcoxon(d, alternative=alternative, method=method,
                         zero_method="zsplit" if method == "approx" else "wilcox")
    return TestResult(float(res.pvalue), float(res.statistic),
                      "exact" if method == "exact" else "asymptotic")


def paired_ratio(baseline: Sequence[float], candidate: Sequence[float]) -> float | None:
    """The typical candidate / baseline ratio of paired runs: exp(median of the log ratios)."""
    d = pair_logs(baseline, candidate)
    return _pair_ratio(statistics.median(d), baseline, candidate) if d else None


def paired_ratio_ci(baseline: Sequence[float], candidate: Sequence[float], *,
                    confidence: float = 0.95, n_resamples: int = 2000,
                    seed: int = SEED) -> tuple[float | None, float | None]:
    """Percentile bootstrap CI of paired_ratio: pairs are resampled whole, so the drift they
    share stays out of the interval. None when undefined (fewer than 2 pairs)."""
    import numpy as np
    from scipy import stats

    d = np.asarray(pair_logs(baseline, candidate), float)
    if len(d) < 2:
        return None, None
    if np.all(d == d[0]):
        lo = hi = float(d[0])
    else:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # a degenerate resample at 2-3 pairs is expected
            res = stats.bootstrap((d,), np.median, n_resamples=n_resamples, vectorized=True,
                                  confidence_level=confidence, method="percentile", rng=seed)
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None, None
    ends = sorted(_pair_ratio(x, baseline, candidate) for x in (lo, hi))
    return ends[0], ends[1]


def scale_back(baseline: Sequence[float], candidate: Sequence[float], *, lower_is_better: bool,
               margin: float) -> list[float]:
    """The candidate with a regression of `margin` (a fraction of the baseline) taken out.

    Timings are modelled by scale: "worse by 10%" is candidate = 1.1 x baseline (lower is
    better) or 0.9 x baseline (higher is better). Values that are not all positive fall back to
    a shift by margin x |median(baseline)|, the gate's own definition of a change.
    """
    c = list(candidate)
    if all(x > 0 for x in baseline) and all(x > 0 for x in c) and (lower_is_better or margin < 1):
        factor = 1 + margin if lower_is_better else 1 - margin
        return [x / factor for x in c]
    d = margin * abs(statistics.median(baseline))
    return [x - d if lower_is_better else x + d for x in c]


def not_worse_by(baseline: Sequence[float], candidate: Sequence[float], *, lower_is_better: bool,
                 margin: float, test: str = "mann_whitney") -> TestResult:
    """A non-inferiority test: can the data rule out that the candidate is worse by `margin`?

    H0: the candidate is worse than the baseline by at least `margin` (a fraction); the
    alternative: worse by less, or better. It is the one-sided test of the gate, run on the
    candidate with that regression taken out (scale_back): a small p (Mann-Whitney) or a z
    beyond the look's bar (2-sigma rule) rules the regression out. Inverting this test over
    margins gives the Hodges-Lehmann-Moses bound on the shift; the gate needs one margin only.
    """
    back = scale_back(baseline, candidate, lower_is_better=lower_is_better, margin=margin)
    if test == "mann_whitney":
        return mann_whitney(baseline, back, lower_is_better=lower_is_better)
    if test == "wilcoxon":
        return wilcoxon(baseline, back, lower_is_better=lower_is_better)
    return mean_2sigma(baseline, back, lower_is_better=lower_is_better)


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


# Two measurements of the same code disagree "far beyond the noise" when their medians are
# further apart (on a log scale) than this many robust pooled CVs, and at least the floor.
SAME_CODE_SIGMAS = 4.0
SAME_CODE_FLOOR = math.log(1.25)


def robust_sd(values: Sequence[float]) -> float:
    """MAD x 1.4826: a standard deviation (for normal data) that one outlier does not move."""
    v = list(values)
    med = statistics.median(v)
    return 1.4826 * statistics.median(abs(x - med) for x in v)


def robust_cv(values: Sequence[float]) -> float:
    """robust_sd / |median|: the spread of one session, not moved by an outlier run."""
    med = statistics.median(values)
    return robust_sd(values) / abs(med) if med else 0.0


def same_code_disagree(earlier: Sequence[float], now: Sequence[float]) -> float | None:
    """The ratio now/earlier of the medians when two sessions of the same code disagree far
    beyond their noise, else None. Not a test: a plausibility check with a wide margin
    (|ln ratio| > max(ln 1.25, 4 x the pooled robust CV)), for warnings only."""
    if len(earlier) < 2 or len(now) < 2:
        return None
    a, b = statistics.median(earlier), statistics.median(now)
    if a <= 0 or b <= 0:
        return None
    pooled = math.hypot(robust_cv(earlier), robust_cv(now))
    gap = abs(math.log(b / a))
    return b / a if gap > max(SAME_CODE_FLOOR, SAME_CODE_SIGMAS * pooled) else None


def bootstrap_median_ci(values: Sequence[float], *, confidence: float = 0.95,
                        n_resamples: int = 2000, seed: int = SEED
                        ) -> tuple[float | None, float | None]:
    """Percentile bootstrap CI of one sample's median (a commit's point along a bisection).

    Percentile, as for the ratio above; with one value, or all values equal, the interval is
    that value. None for an empty sample."""
    import warnings

    import numpy as np
    from scipy import stats

    v = np.asarray(values, float)
    if len(v) == 0:
        return None, None
    if np.all(v == v[0]):
        return float(v[0]), float(v[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap((v,), np.median, n_resamples=n_resamples, vectorized=True,
                              confidence_level=confidence, method="percentile", rng=seed)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


# -- a family of tests (a suite's benchmarks) ------------------------------------------------

def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: reject H_i when adjusted p_i < alpha, and the chance
    of any false rejection over the whole family stays <= alpha (family-wise error rate), for
    any dependence between the tests. Sidedness is that of the p-values given."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (scipy's false_discovery_control): rejecting every
    adjusted p < alpha keeps the expected share of false discoveries among the rejections
    <= alpha (false discovery rate), for independent or positively dependent tests."""
    from scipy import stats

    if not p_values:
        return []
    return [float(p) for p in stats.false_discovery_control(list(p_values), method="bh")]


def adjust(p_values: Sequence[float], method: str) -> list[float]:
    """The contract's correction over a family: holm, bh, or none (the p-values as they are)."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    return [float(p) for p in p_values]


@dataclass(frozen=True)
class GeomeanRatio:
    ratio: float          # geometric mean over benchmarks of median(candidate) / median(baseline)
    ci_low: float
    ci_high: float
    p_better: float       # bootstrap: share of resampled ratios >= 1 (lower is better: not better)
    p_worse: float        # share of resampled ratios <= 1


def geomean_ratio(baseline, candidate, *, confidence: float = 0.95, n_resamples: int = 2000,
                  seed: int = SEED) -> GeomeanRatio | None:
    """The geometric mean of the per-benchmark median ratios (as pyperf and Google Benchmark
    summarise a suite) with a percentile bootstrap CI.

    `baseline` and `candidate` are (invocations x benchmarks) arrays: one value per benchmark
    per invocation. The bootstrap resamples whole invocations of each side (the same rows for
    every benchmark), so the correlation between benchmarks of one invocation, which a busy
    machine creates, is kept. Two-sided at `confidence`; the one-sided bootstrap p-values say
    how often a resample lands on the other side of 1 (at least 1 / (n_resamples + 1)).
    None when a baseline median is 0 or a side is empty.
    """
    import numpy as np

    b, c = np.asarray(baseline, float), np.asarray(candidate, float)
    if b.ndim != 2 or c.ndim != 2 or b.shape[0] == 0 or c.shape[0] == 0 or b.shape[1] == 0 \
            or b.shape[1] != c.shape[1]:
        return None
    mb, mc = np.median(b, axis=0), np.median(c, axis=0)
    if np.any(mb <= 0) or np.any(mc <= 0):
        return None
    point = float(np.exp(np.mean(np.log(mc / mb))))
    rng = np.random.default_rng(seed)
    ib = rng.integers(0, b.shape[0], size=(n_resamples, b.shape[0]))
    ic = rng.integers(0, c.shape[0], size=(n_resamples, c.shape[0]))
    rb = np.median(b[ib], axis=1)            # (n_resamples, benchmarks)
    rc = np.median(c[ic], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.mean(np.log(rc / rb), axis=1)
    logs = logs[np.isfinite(logs)]
    if logs.size == 0:
        return None
    tail = (1 - confidence) / 2
    lo, hi = np.exp(np.quantile(logs, [tail, 1 - tail]))
    p_better = (np.sum(logs >= 0) + 1) / (logs.size + 1)
    p_worse = (np.sum(logs <= 0) + 1) / (logs.size + 1)
    return GeomeanRatio(point, float(lo), float(hi), float(p_better), float(p_worse))
