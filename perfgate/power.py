"""Power: how many runs a test needs, before any run is made.

The floors of the exact rank tests (the smallest p they can ever give with n runs), the
smallest change a number of runs can detect, and the runs a change needs. Plain arithmetic
over the standard library, so the CLI, the sequential plan and the pre-flights use it without
importing scipy.
"""
from __future__ import annotations

import math
import statistics

from perfgate import stats  # its top level is plain Python: scipy stays unimported

# Mann-Whitney's asymptotic relative efficiency against the t-test for normal data (3/pi).
MW_ARE = 3 / math.pi


def wilcoxon_min_p(n: int) -> float:
    """The smallest one-sided exact signed-rank p with n pairs: every sign the same, 1 / 2^n."""
    return 0.5 ** n


def mw_min_p(n1: int, n2: int) -> float:
    """The smallest one-sided exact Mann-Whitney p with n1 vs n2 runs: 1 / C(n1+n2, n1)."""
    if n1 + n2 > 1000:   # C(n1+n2, n1) is past a float's range, and slow to compute exactly
        return 0.0
    return 1.0 / math.comb(n1 + n2, n1)


def mw_min_n(alpha: float) -> int:
    """The smallest equal n per side whose smallest one-sided Mann-Whitney p is below alpha."""
    return min_n("mann_whitney", alpha)


def min_p(test: str, n1: int, n2: int) -> float | None:
    """The smallest one-sided p a rank test can give with n1 vs n2 runs (None: the 2-sigma
    rule, which has no floor). The signed-rank test uses the matched pairs only."""
    if test == "mann_whitney":
        return mw_min_p(n1, n2)
    if test == "wilcoxon":
        return wilcoxon_min_p(min(n1, n2))
    return None


def min_n(test: str, alpha: float) -> int:
    """The smallest equal n per side whose smallest one-sided p is below alpha."""
    n = 1
    while (min_p(test, n, n) or 0) >= alpha:
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


def spread(baseline, candidate, *, paired: bool = False) -> float | None:
    """The per-run spread the planning above takes as cv, from the runs themselves: the pooled
    robust CV of the two sides, or for paired runs the robust spread of their log ratios over
    sqrt(2) (a difference of two runs has twice a run's variance). None without spread."""
    if len(baseline) < 3 or len(candidate) < 3:
        return None
    if paired:
        cv = stats.robust_sd(stats.pair_logs(baseline, candidate)) / math.sqrt(2)
    else:
        cv = math.sqrt((stats.robust_cv(baseline) ** 2 + stats.robust_cv(candidate) ** 2) / 2)
    return cv if cv > 0 else None


def runs_to_rule_out(baseline, candidate, margin_pct: float, alpha: float, *,
                     paired: bool = False) -> int | None:
    """Runs per side that would rule out a regression of margin_pct, at 80% power, if nothing
    changed, at the spread these runs show (one look at alpha); the same number tells a change
    of margin_pct from none. None when it cannot be said."""
    cv = spread(baseline, candidate, paired=paired)
    if cv is None or margin_pct <= 0:
        return None
    return n_for_effect(cv, margin_pct, alpha)


def runs_hint(baseline, candidate, effect_pct: float, alpha: float, *, paired: bool,
              doing: str, assuming: str) -> str:
    """'; at this noise, {doing} takes about N runs a side ({assuming}; ...)' for a reason at a
    gate's last look, when these runs show how many it would take and that is more than they
    are; else ''."""
    need = runs_to_rule_out(baseline, candidate, effect_pct, alpha, paired=paired)
    if not need or need <= min(len(baseline), len(candidate)):
        return ""
    about = f"about {need}" if need <= 10_000 else "more than 10,000"
    return (f"; at this noise, {doing} takes {about} runs a side ({assuming}; 80% power, "
            f"one look at alpha {alpha:g})")
