"""The gate's decision: a pure function of two samples and a contract. No I/O, no printing."""
from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from perfgate import stats
from perfgate.contract import Contract, Metric
from perfgate.sequential import Look, single

# 2: `benchmarks` and `suite` (a suite's per-benchmark results); version 1 documents are
# read through perfgate.schemas.upgrade.
DOCUMENT_VERSION = 2


@dataclass(frozen=True)
class Samples:
    """One side of a comparison: metric -> measured values, and any failed runs."""

    values: Mapping[str, Sequence[float]]
    failures: Sequence[str] = ()


@dataclass(frozen=True)
class MetricResult:
    name: str
    unit: str
    lower_is_better: bool
    role: Literal["primary", "watchdog"]
    baseline_median: float | None
    candidate_median: float | None
    change_pct: float | None          # positive means better, % of |baseline median|
    ci_low: float | None              # bootstrap 95% CI of candidate/baseline median ratio
    ci_high: float | None
    p_value: float | None
    test: str | None
    alpha: float | None
    n_baseline: int
    n_candidate: int
    limit_pct: float | None           # primary: pct_min; watchdog: max_regression_pct
    passed: bool


VerdictName = Literal["accepted", "rejected", "inconclusive"]


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    primary: MetricResult | None
    watchdogs: tuple[MetricResult, ...] = ()
    reasons: tuple[str, ...] = ()
    threshold: Mapping[str, Any] = field(default_factory=dict)
    look: Look | None = None

    def to_document(self, *, contract: str, base: Mapping[str, Any],
                    candidate: Mapping[str, Any]) -> dict[str, Any]:
        """The versioned verdict document (verdict.json, `--json`); NaN becomes null."""
        p = self.primary
        primary = None if p is None else _clean({
            k: asdict(p)[k] for k in ("name", "unit", "lower_is_better", "baseline_median",
                                      "candidate_median", "change_pct", "ci_low", "ci_high",
                                      "p_value", "test", "alpha", "n_baseline", "n_candidate",
                                      "passed")})
        watchdogs = [_clean({"name": w.name, "unit": w.unit, "lower_is_better": w.lower_is_better,
                             "baseline_median": w.baseline_median,
                             "candidate_median": w.candidate_median,
                             "change_pct": w.change_pct, "max_regression_pct": w.limit_pct,
                             "passed": w.passed}) for w in self.watchdogs]
        return {"version": DOCUMENT_VERSION, "verdict": self.verdict, "contract": contract,
                "mode": self.threshold.get("mode", "improvement"),
                "base": dict(base), "candidate": dict(candidate), "primary": primary,
                "watchdogs": watchdogs, "threshold": dict(self.threshold),
                "sequential": self.sequential(), "reasons": list(self.reasons),
                "benchmarks": [], "suite": None}

    def sequential(self) -> dict[str, Any]:
        """How the decision was reached: each round of runs ends in one look at the data."""
        look = self.look or single(0, 0.0)
        return {"adaptive": look.of > 1, "rounds": look.number, "looks": look.number,
                "planned_looks": look.of, "runs_per_side": look.runs,
                "look_alpha": look.alpha if self.look else None}


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in d.items()}


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def change_pct(base_median: float, cand_median: float, lower_is_better: bool) -> float | None:
    """Improvement in % of |baseline median|; positive is better. None if the base is 0."""
    if base_median == 0:
        return None
    gain = (base_median - cand_median) if lower_is_better else (cand_median - base_median)
    return 100.0 * gain / abs(base_median)


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "n/a"
    return f"{x:.4g} {unit}".rstrip()


def _compare(metric: Metric, base: Sequence[float], cand: Sequence[float],
             role: Literal["primary", "watchdog"], limit: float | None) -> MetricResult:
    b, c = _median(base), _median(cand)
    ch = change_pct(b, c, metric.lower_is_better) if b is not None and c is not None else None
    lo, hi = stats.bootstrap_median_ratio_ci(base, cand) if base and cand else (None, None)
    return MetricResult(metric.name, metric.unit, metric.lower_is_better, role, b, c, ch, lo, hi,
                        None, None, None, len(base), len(cand), limit, False)


Mode = Literal["improvement", "no-regression"]


def decide(baseline: Samples, candidate: Samples, contract: Contract, *,
           verify_failure: str | None = None, mode: Mode = "improvement",
           look: Look | None = None) -> Verdict:
    """Accept only if every run succeeded, verify passed, the primary's median improved by at
    least the threshold, the improvement is significant (if required), and no watchdog
    regressed past its limit. Reject, listing every condition that failed, when the data
    clearly says no. Inconclusive when the primary alone is undecided: its median cleared the
    threshold but the test is not (yet) significant, or the spread is too wide to tell whether
    it clears the threshold. An adaptive gate then buys more runs and decides again.

    `look` is the point of a sequential plan this decision is taken at: its share of alpha
    replaces the contract's alpha (a fixed-N gate has one look with all of it).

    mode "no-regression" (a CI check on every pull request) turns the primary's condition
    around: fail only when the candidate is worse by at least the threshold and significantly
    so (the same test, in the worsening direction); unchanged passes; worse by the threshold
    but not significant is inconclusive.
    """
    t = contract.threshold
    look = look or single(len(candidate.values.get(contract.metrics.primary.name, ())),
                          contract.significance.alpha)
    reasons: list[str] = []
    threshold = {"type": t.type, "pct_min": t.pct_min, "absolute_min": t.absolute_min,
                 "significance_required": t.significance_required, "mode": mode}
    if verify_failure:
        reasons.append(verify_failure)
    reasons += [f"baseline {f}" if not f.startswith("baseline") else f for f in baseline.failures]
    reasons += [f"candidate {f}" if not f.startswith("candidate") else f
                for f in candidate.failures]
    if reasons:  # partial data never decides: no statistics on a failed comparison
        return Verdict("rejected", None, (), tuple(reasons), threshold, look)

    prim = contract.metrics.primary
    base_v = list(baseline.values.get(prim.name, ()))
    cand_v = list(candidate.values.get(prim.name, ()))
    primary, undecided = None, []
    for side, vals in (("baseline", base_v), ("candidate", cand_v)):
        if not vals:
            reasons.append(f"{side} has no values for {prim.name}")
    if base_v and cand_v:
        judge = _judge_primary if mode == "improvement" else _judge_no_regression
        primary, why, undecided = judge(prim, base_v, cand_v, contract, look)
        reasons += why

    watchdogs = []
    for w in contract.metrics.watchdogs:
        wb = list(baseline.values.get(w.name, ()))
        wc = list(candidate.values.get(w.name, ()))
        missing = [s for s, v in (("baseline", wb), ("candidate", wc)) if not v]
        for side in missing:
            reasons.append(f"{side} has no values for watchdog {w.name}")
        r = _compare(w, wb, wc, "watchdog", w.max_regression_pct)
        ok = not missing and r.change_pct is not None and -r.change_pct <= w.max_regression_pct
        if not missing and not ok:
            if r.change_pct is None:
                reasons.append(f"watchdog {w.name}: baseline median is 0, cannot compute a change")
            else:
                reasons.append(
                    f"watchdog {w.name} regressed {-r.change_pct:.1f}% "
                    f"({_fmt(r.baseline_median, w.unit)} → {_fmt(r.candidate_median, w.unit)}), "
                    f"more than its {w.max_regression_pct:g}% limit")
        watchdogs.append(_replace(r, passed=ok))
    if reasons:          # a clear "no" outranks an undecided primary
        name: VerdictName = "rejected"
    elif undecided:
        name, reasons = "inconclusive", undecided
    else:
        name = "accepted" if primary is not None and primary.passed else "rejected"
    return Verdict(name, primary, tuple(watchdogs), tuple(reasons), threshold, look)


def _replace(r: MetricResult, **kw: Any) -> MetricResult:
    from dataclasses import replace

    return replace(r, **kw)


def _clears(t, gain_pct: float | None, gain_abs: float | None) -> bool:
    """Does a gain (in % of the baseline median, and in the metric's unit) meet the threshold?"""
    if gain_pct is None or gain_pct <= 0:
        return False
    ok = True
    if t.type in ("pct", "both"):
        ok = ok and gain_pct >= t.pct_min
    if t.type in ("absolute", "both"):
        ok = ok and gain_abs is not None and gain_abs >= t.absolute_min
    return ok


def _best_gain(r: MetricResult, worse: bool = False) -> tuple[float | None, float | None]:
    """The most favourable gain (or, with worse=True, loss) the 95% CI of the ratio allows."""
    if r.ci_low is None or r.ci_high is None or not r.baseline_median:
        return None, None
    improving_ratio = r.ci_low if r.lower_is_better else r.ci_high
    worsening_ratio = r.ci_high if r.lower_is_better else r.ci_low
    ratio = worsening_ratio if worse else improving_ratio
    change = (1 - ratio) if r.lower_is_better else (ratio - 1)
    if worse:
        change = -change
    return 100 * change, abs(change * r.baseline_median)


def _significance(prim: Metric, base: list[float], cand: list[float], contract: Contract,
                  look: Look, worse_way: bool = False):
    """(result, significant, test name): the contract's test at this look's share of alpha."""
    sig = contract.significance
    lower = prim.lower_is_better != worse_way
    if sig.test == "mann_whitney":
        res = stats.mann_whitney(base, cand, lower_is_better=lower)
        return res, res.p_value < look.alpha, f"one-sided Mann-Whitney ({res.method})"
    res = stats.mean_2sigma(base, cand, lower_is_better=lower)
    return res, res.statistic > look.z_min, "2-sigma rule"


def _alpha_text(look: Look, alpha: float) -> str:
    if look.of == 1:
        return f"alpha {alpha:g}"
    return f"{look.alpha:.3g} (alpha {alpha:g} split over {look.of} looks, this is look {look.number})"


def _judge_primary(prim: Metric, base: list[float], cand: list[float], contract: Contract,
                   look: Look) -> tuple[MetricResult, list[str], list[str]]:
    """(result, reasons to reject, reasons it is undecided)."""
    t, sig = contract.threshold, contract.significance
    r = _compare(prim, base, cand, "primary", t.pct_min)
    reasons: list[str] = []
    undecided: list[str] = []
    moved = (f"({_fmt(r.baseline_median, prim.unit)} → {_fmt(r.candidate_median, prim.unit)})")
    res, significant, test_name = _significance(prim, base, cand, contract, look)
    r = _replace(r, p_value=res.p_value, test=sig.test, alpha=look.alpha)
    gain_abs = (abs(r.baseline_median - r.candidate_median)
                if r.change_pct is not None else None)
    if r.change_pct is None:
        reasons.append(f"{prim.name}: the baseline median is 0, so no relative change exists")
    elif r.change_pct <= 0:
        word = "did not change" if r.change_pct == 0 else f"got {-r.change_pct:.1f}% worse"
        reasons.append(f"{prim.name} median {word} {moved}")
    elif not _clears(t, r.change_pct, gain_abs):
        below = []
        if t.type in ("pct", "both") and r.change_pct < t.pct_min:
            below.append(f"{prim.name} median improved {r.change_pct:.1f}% {moved}, below the "
                         f"{t.pct_min:g}% threshold")
        if t.type in ("absolute", "both") and gain_abs < t.absolute_min:
            below.append(f"{prim.name} median improved by {gain_abs:.4g} {prim.unit} {moved}, "
                         f"below the absolute threshold of {t.absolute_min:g} {prim.unit}")
        best_pct, best_abs = _best_gain(r)
        if _clears(t, best_pct, best_abs):
            undecided.append(f"{below[0]}, but the 95% CI allows up to {best_pct:.1f}%: "
                             f"too wide to tell (n = {len(base)} vs {len(cand)})")
        else:
            reasons += below
    elif t.significance_required and not significant:
        if sig.test == "mann_whitney" and stats.mw_min_p(len(base), len(cand)) >= look.alpha:
            undecided.append(
                f"not significant and cannot be: with {len(base)} vs {len(cand)} runs the "
                f"smallest possible one-sided Mann-Whitney p is "
                f"{stats.mw_min_p(len(base), len(cand)):.3g} >= {_alpha_text(look, sig.alpha)}; "
                f"use at least {stats.mw_min_n(look.alpha or sig.alpha)} runs per side")
        elif sig.test == "mann_whitney":
            undecided.append(f"not significant: {test_name} p = {res.p_value:.3g} >= "
                             f"{_alpha_text(look, sig.alpha)} (median improved "
                             f"{r.change_pct:.1f}%, n = {len(base)} vs {len(cand)})")
        else:
            undecided.append(f"not significant: the candidate mean is not beyond the baseline "
                             f"mean ± {look.z_min:.3g} sd (z = {res.statistic:.2f})")
    return _replace(r, passed=not (reasons or undecided)), reasons, undecided


def _judge_no_regression(prim: Metric, base: list[float], cand: list[float], contract: Contract,
                         look: Look) -> tuple[MetricResult, list[str], list[str]]:
    """Fail only when the candidate is worse by the threshold and significantly so."""
    t, sig = contract.threshold, contract.significance
    r = _compare(prim, base, cand, "primary", t.pct_min)
    res, significant, _ = _significance(prim, base, cand, contract, look, worse_way=True)
    r = _replace(r, p_value=res.p_value, test=sig.test, alpha=look.alpha)
    if r.change_pct is None:
        return _replace(r, passed=False), [
            f"{prim.name}: the baseline median is 0, so no relative change exists"], []
    worse_pct = -r.change_pct
    worse_abs = -(r.baseline_median - r.candidate_median) * (1 if prim.lower_is_better else -1)
    if not _clears(t, worse_pct, worse_abs):
        return _replace(r, passed=True), [], []
    moved = f"({_fmt(r.baseline_median, prim.unit)} → {_fmt(r.candidate_median, prim.unit)})"
    limit = (f"the {t.pct_min:g}% threshold" if t.type == "pct" else
             f"the {t.absolute_min:g} {prim.unit} threshold" if t.type == "absolute" else
             f"the {t.pct_min:g}% and {t.absolute_min:g} {prim.unit} thresholds")
    if t.significance_required and not significant:
        return _replace(r, passed=False), [], [
            f"{prim.name} median got {worse_pct:.1f}% worse {moved}, beyond {limit}, but not "
            f"significantly: p = {res.p_value:.3g} >= {_alpha_text(look, sig.alpha)}"]
    sig_text = (f", significant: p = {res.p_value:.3g} < {_alpha_text(look, sig.alpha)}"
                if t.significance_required else "")
    return _replace(r, passed=False), [
        f"{prim.name} median got {worse_pct:.1f}% worse {moved}, beyond {limit}{sig_text}"], []
