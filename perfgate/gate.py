"""The gate's decision: a pure function of two samples and a contract. No I/O, no printing."""
from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from perfgate import stats
from perfgate.contract import Contract, Metric

DOCUMENT_VERSION = 1


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


@dataclass(frozen=True)
class Verdict:
    verdict: Literal["accepted", "rejected"]
    primary: MetricResult | None
    watchdogs: tuple[MetricResult, ...] = ()
    reasons: tuple[str, ...] = ()
    threshold: Mapping[str, Any] = field(default_factory=dict)

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
                "reasons": list(self.reasons)}


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
           verify_failure: str | None = None, mode: Mode = "improvement") -> Verdict:
    """Accept only if every run succeeded, verify passed, the primary's median improved by at
    least the threshold, the improvement is significant (if required), and no watchdog
    regressed past its limit. Otherwise reject, listing every condition that failed.

    mode "no-regression" (a CI check on every pull request) turns the primary's condition
    around: reject only when the candidate is worse by at least the threshold and
    significantly so (the same test, in the worsening direction); unchanged passes.
    """
    t = contract.threshold
    reasons: list[str] = []
    threshold = {"type": t.type, "pct_min": t.pct_min, "absolute_min": t.absolute_min,
                 "significance_required": t.significance_required, "mode": mode}
    if verify_failure:
        reasons.append(verify_failure)
    reasons += [f"baseline {f}" if not f.startswith("baseline") else f for f in baseline.failures]
    reasons += [f"candidate {f}" if not f.startswith("candidate") else f
                for f in candidate.failures]
    if reasons:  # partial data never decides: no statistics on a failed comparison
        return Verdict("rejected", None, (), tuple(reasons), threshold)

    prim = contract.metrics.primary
    base_v = list(baseline.values.get(prim.name, ()))
    cand_v = list(candidate.values.get(prim.name, ()))
    primary = None
    for side, vals in (("baseline", base_v), ("candidate", cand_v)):
        if not vals:
            reasons.append(f"{side} has no values for {prim.name}")
    if base_v and cand_v:
        judge = _judge_primary if mode == "improvement" else _judge_no_regression
        primary, why = judge(prim, base_v, cand_v, contract)
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
    accepted = not reasons and primary is not None and primary.passed
    return Verdict("accepted" if accepted else "rejected", primary, tuple(watchdogs),
                   tuple(reasons), threshold)


def _replace(r: MetricResult, **kw: Any) -> MetricResult:
    from dataclasses import replace

    return replace(r, **kw)


def _judge_primary(prim: Metric, base: list[float], cand: list[float],
                   contract: Contract) -> tuple[MetricResult, list[str]]:
    t, sig = contract.threshold, contract.significance
    r = _compare(prim, base, cand, "primary", t.pct_min)
    reasons: list[str] = []
    moved = (f"({_fmt(r.baseline_median, prim.unit)} → {_fmt(r.candidate_median, prim.unit)})")
    if r.change_pct is None:
        reasons.append(f"{prim.name}: the baseline median is 0, so no relative change exists")
    elif r.change_pct <= 0:
        word = "did not change" if r.change_pct == 0 else f"got {-r.change_pct:.1f}% worse"
        reasons.append(f"{prim.name} median {word} {moved}")
    else:
        gain_abs = abs(r.baseline_median - r.candidate_median)
        if t.type in ("pct", "both") and r.change_pct < t.pct_min:
            reasons.append(f"{prim.name} median improved {r.change_pct:.1f}% {moved}, below the "
                           f"{t.pct_min:g}% threshold")
        if t.type in ("absolute", "both") and gain_abs < t.absolute_min:
            reasons.append(f"{prim.name} median improved by {gain_abs:.4g} {prim.unit} {moved}, "
                           f"below the absolute threshold of {t.absolute_min:g} {prim.unit}")
    if sig.test == "mann_whitney":
        res = stats.mann_whitney(base, cand, lower_is_better=prim.lower_is_better)
        significant = res.p_value < sig.alpha
        test_name = f"one-sided Mann-Whitney ({res.method})"
    else:
        res = stats.mean_2sigma(base, cand, lower_is_better=prim.lower_is_better)
        significant = bool(res.passed)
        test_name = "2-sigma rule"
    r = _replace(r, p_value=res.p_value, test=sig.test, alpha=sig.alpha)
    if t.significance_required and not significant:
        if sig.test == "mann_whitney" and stats.mw_min_p(len(base), len(cand)) >= sig.alpha:
            reasons.append(
                f"not significant and cannot be: with {len(base)} vs {len(cand)} runs the "
                f"smallest possible one-sided Mann-Whitney p is "
                f"{stats.mw_min_p(len(base), len(cand)):.3g} >= alpha {sig.alpha:g}; use at "
                f"least {stats.mw_min_n(sig.alpha)} runs per side")
        elif sig.test == "mann_whitney":
            reasons.append(f"not significant: {test_name} p = {res.p_value:.3g} >= alpha "
                           f"{sig.alpha:g} (n = {len(base)} vs {len(cand)})")
        else:
            reasons.append(f"not significant: the candidate mean is not beyond the baseline "
                           f"mean ± 2 sd (z = {res.statistic:.2f})")
    return _replace(r, passed=not reasons), reasons


def _judge_no_regression(prim: Metric, base: list[float], cand: list[float],
                         contract: Contract) -> tuple[MetricResult, list[str]]:
    """Fail only when the candidate is worse by the threshold and significantly so."""
    t, sig = contract.threshold, contract.significance
    r = _compare(prim, base, cand, "primary", t.pct_min)
    worse_way = not prim.lower_is_better
    if sig.test == "mann_whitney":
        res = stats.mann_whitney(base, cand, lower_is_better=worse_way)
        significant = res.p_value < sig.alpha
    else:
        res = stats.mean_2sigma(base, cand, lower_is_better=worse_way)
        significant = bool(res.passed)
    r = _replace(r, p_value=res.p_value, test=sig.test, alpha=sig.alpha)
    if r.change_pct is None:
        return _replace(r, passed=False), [
            f"{prim.name}: the baseline median is 0, so no relative change exists"]
    worse_pct = -r.change_pct
    worse_abs = -(r.baseline_median - r.candidate_median) * (1 if prim.lower_is_better else -1)
    beyond = []
    if t.type in ("pct", "both"):
        beyond.append(worse_pct >= t.pct_min)
    if t.type in ("absolute", "both"):
        beyond.append(worse_abs >= t.absolute_min)
    regressed = all(beyond) and worse_pct > 0 and (significant or not t.significance_required)
    if not regressed:
        return _replace(r, passed=True), []
    moved = f"({_fmt(r.baseline_median, prim.unit)} → {_fmt(r.candidate_median, prim.unit)})"
    limit = (f"the {t.pct_min:g}% threshold" if t.type == "pct" else
             f"the {t.absolute_min:g} {prim.unit} threshold" if t.type == "absolute" else
             f"the {t.pct_min:g}% and {t.absolute_min:g} {prim.unit} thresholds")
    sig_text = (f", significant: p = {res.p_value:.3g} < alpha {sig.alpha:g}"
                if t.significance_required else "")
    return _replace(r, passed=False), [
        f"{prim.name} median got {worse_pct:.1f}% worse {moved}, beyond {limit}{sig_text}"]
