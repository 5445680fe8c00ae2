"""A change between two samples: its size, whether it clears a threshold, and its words.

The gate (perfgate.gate) and bisect's "did it move" (perfgate.shift) judge with the same
arithmetic; it lives here, once. Sign convention: a positive change is an improvement."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfgate.contract import Threshold
    from perfgate.verdict import MetricResult


def change_pct(base_median: float, cand_median: float, lower_is_better: bool) -> float | None:
    """Improvement in % of |baseline median|; positive is better. None if the base is 0."""
    if base_median == 0:
        return None
    gain = (base_median - cand_median) if lower_is_better else (cand_median - base_median)
    return 100.0 * gain / abs(base_median)


def abs_change(r: MetricResult) -> float | None:
    """The change in the metric's unit, positive when better: the relative change times the
    baseline median (for unpaired samples exactly the medians' difference)."""
    if r.change_pct is None or r.baseline_median is None:
        return None
    return r.change_pct / 100 * abs(r.baseline_median)


def clears(t: Threshold, gain_pct: float | None, gain_abs: float | None) -> bool:
    """Does a gain (in % of the baseline median, and in the metric's unit) meet the threshold?"""
    if gain_pct is None or gain_pct <= 0:
        return False
    ok = True
    if t.type in ("pct", "both"):
        ok = ok and gain_pct >= t.pct_min
    if t.type in ("absolute", "both"):
        ok = ok and gain_abs is not None and gain_abs >= t.absolute_min
    return ok


def best_gain(r: MetricResult, worse: bool = False) -> tuple[float | None, float | None]:
    """The most favourable gain (or, with worse=True, loss) the 95% CI of the ratio allows.

    A ratio below 1 is a gain for lower-is-better values only while the baseline is positive:
    for a negative baseline (a custom metric such as a margin) the same ratio is a loss, so
    each end of the interval is turned into a gain the way change_pct is, sign included."""
    if r.ci_low is None or r.ci_high is None or not r.baseline_median:
        return None, None
    sign = 1.0 if r.baseline_median > 0 else -1.0
    gains = [sign * ((1 - q) if r.lower_is_better else (q - 1)) for q in (r.ci_low, r.ci_high)]
    change = -min(gains) if worse else max(gains)
    return 100 * change, abs(change * r.baseline_median)


def regression_margin(t: Threshold, base_median: float | None) -> float | None:
    """The regression the threshold stands for, as a fraction of the baseline median. With
    type both a change counts only when it exceeds both limits, so the larger one binds."""
    parts = []
    if t.type in ("pct", "both"):
        parts.append(t.pct_min / 100)
    if t.type in ("absolute", "both") and base_median:
        parts.append(t.absolute_min / abs(base_median))
    return max(parts) if parts else None


def fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "n/a"
    return f"{x:.4g} {unit}".rstrip()


def signed(change_pct: float | None, unknown: str = "by an unknown amount") -> str:
    """A change in the gate's sign convention, as words: '3.1% better' / '4.0% worse'."""
    if change_pct is None:
        return unknown
    return f"{abs(change_pct):.1f}% " + ("better" if change_pct >= 0 else "worse")


def subject(name: str, paired: bool) -> str:
    """What a change is of: the median, or (paired) the runs of a round taken together."""
    return name if paired else f"{name} median"


def moved_text(r: MetricResult, paired: bool) -> str:
    """The medians, in brackets; paired, saying the change is the pairs' and not theirs."""
    medians = f"{fmt(r.baseline_median, r.unit)} → {fmt(r.candidate_median, r.unit)}"
    return f"(run for run; medians {medians})" if paired else f"({medians})"
