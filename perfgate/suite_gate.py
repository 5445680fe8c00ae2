"""The decision over a suite: gate.decide per benchmark, a correction across them, the
geometric mean of their ratios. Pure: no I/O, no printing (like gate.py, which it builds on).

The rule (docs/design.md, "Gating a suite"): accept when the primary (one benchmark, or the
geometric mean of all the benchmarks' median ratios) clears the threshold significantly, and
no benchmark regresses significantly beyond its limit after the contract's correction
(holm: family-wise error; bh: false discovery rate; none). In no-regression mode (CI) the
suite fails when any benchmark, or the primary, does. Every reason is listed, per benchmark.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from perfgate import gate, stats
from perfgate.errors import SuiteError
from perfgate.gate import Mode, Samples, Verdict, change_pct
from perfgate.sequential import Look, single
from perfgate.suites.spec import GEOMEAN

Status = Literal["improved", "regressed", "slower", "undecided", "unchanged"]


@dataclass(frozen=True)
class SuiteSamples:
    """One side of a suite comparison: benchmark -> metric -> one value per invocation; the
    invocations' own metrics (wall time, memory of the whole run); failed runs."""

    benchmarks: Mapping[str, Mapping[str, Sequence[float]]]
    whole: Mapping[str, Sequence[float]] = field(default_factory=dict)
    failures: Sequence[str] = ()


@dataclass(frozen=True)
class BenchmarkResult:
    name: str
    role: Literal["primary", "watchdog"]
    baseline_median: float | None
    candidate_median: float | None
    change_pct: float | None          # positive is better
    ci_low: float | None              # bootstrap 95% CI of the median ratio candidate/baseline
    ci_high: float | None
    p_better: float | None            # one-sided Mann-Whitney, each direction
    p_worse: float | None
    p_adjusted: float | None          # two-sided (2 x the smaller one-sided p), corrected
    limit_pct: float | None           # primary: its threshold; watchdog: max regression
    n_baseline: int
    n_candidate: int
    status: Status
    passed: bool


@dataclass(frozen=True)
class SuiteVerdict(Verdict):
    benchmarks: tuple[BenchmarkResult, ...] = ()
    suite: Mapping[str, Any] = field(default_factory=dict)

    def to_document(self, **kw: Any) -> dict[str, Any]:
        doc = super().to_document(**kw)
        doc["benchmarks"] = [gate._clean(asdict(b)) for b in self.benchmarks]
        doc["suite"] = {k: (gate._clean(v) if isinstance(v, dict) else v)
                        for k, v in self.suite.items()}
        return doc


def decide(baseline: SuiteSamples, candidate: SuiteSamples, contract, *,
           verify_failure: str | None = None, mode: Mode = "improvement",
           look: Look | None = None) -> SuiteVerdict:
    """gate.decide's rule over every benchmark of the contract's suite (see the module)."""
    suite, prim = contract.suite, contract.metrics.primary
    if verify_failure or baseline.failures or candidate.failures:
        v = gate.decide(Samples({}, baseline.failures), Samples({}, candidate.failures), contract,
                        verify_failure=verify_failure, mode=mode, look=look)
        return SuiteVerdict(**_fields(v), suite=_summary(contract, 0, None))
    names = _names(baseline, candidate, contract)
    base = {n: baseline.benchmarks[n] for n in names}
    cand = {n: candidate.benchmarks[n] for n in names}
    look = look or single(max(len(cand[n][prim.name]) for n in names), contract.significance.alpha)
    reasons: list[str] = []
    undecided: list[str] = []

    primary, primary_name = None, suite.primary
    if primary_name != GEOMEAN and primary_name not in names:
        raise SuiteError(f"{contract.source}: suite.primary: no benchmark named "
                         f"{primary_name!r} in the results")
    # The geometric mean is reported for every suite; it decides only as the primary.
    geomean, why, unsure = _judge_geomean(base, cand, contract, mode, look)
    if primary_name == GEOMEAN:
        primary = geomean
        reasons += why
        undecided += unsure
    family = [n for n in names if n != primary_name]

    # Two-sided "did it change" per benchmark, corrected over the whole suite: what the
    # summary calls changed (and what bench/suite_bench.py counts as a flag).
    p_b, p_w = {}, {}
    for n in names:
        p_b[n] = _p(contract, base[n][prim.name], cand[n][prim.name], prim.lower_is_better)
        p_w[n] = _p(contract, base[n][prim.name], cand[n][prim.name], not prim.lower_is_better)
    two = stats.adjust([min(1.0, 2 * min(p_b[n], p_w[n])) for n in names], suite.correction)
    adjusted = dict(zip(names, two))

    # The regression family: every benchmark but a named primary, at its own limit, with
    # alpha corrected by each one's place in the family (p < alpha_i  <=>  adjusted p < alpha).
    first = {n: _regression(n, base, cand, contract, look, look.alpha) for n in family}
    ps = [first[n].primary.p_value if first[n].primary and first[n].primary.p_value is not None
          else 1.0 for n in family]
    adj = stats.adjust(ps, suite.correction)
    results: dict[str, BenchmarkResult] = {}
    for n, p, a in zip(family, ps, adj):
        alpha_i = look.alpha if a <= 0 or suite.correction == "none" else look.alpha * p / a
        v = first[n] if alpha_i == look.alpha else _regression(n, base, cand, contract, look,
                                                               alpha_i)
        _, limit = suite.limit(n, contract.threshold.pct_min)
        r = v.primary
        status: Status = ("regressed" if v.verdict == "rejected" else
                          "undecided" if v.verdict == "inconclusive" else
                          _changed(r, adjusted[n], look.alpha))
        if v.verdict == "rejected":
            reasons += [f"benchmark {n}: {_corrected(x, suite.correction, a)}" for x in v.reasons]
        elif v.verdict == "inconclusive":
            undecided += [f"benchmark {n}: {x} ({_after(suite.correction)}, adjusted p = "
                          f"{a:.3g})" for x in v.reasons]
        results[n] = _result(n, "watchdog", r, p_b[n], p_w[n], adjusted[n], limit, status,
                             v.verdict == "accepted")

    if primary_name != GEOMEAN:
        n = primary_name
        pct, _ = suite.limit(n, contract.threshold.pct_min)
        view = _view(contract, n, base, cand, pct)
        v = gate.decide(Samples(base[n]), Samples(cand[n]), view, mode=mode, look=look)
        reasons += [f"benchmark {n} (primary): {x}" for x in v.reasons if v.verdict == "rejected"]
        undecided += [f"benchmark {n} (primary): {x}" for x in v.reasons
                      if v.verdict == "inconclusive"]
        status = ("undecided" if v.verdict == "inconclusive" else
                  "regressed" if v.verdict == "rejected" and mode == "no-regression" else
                  _changed(v.primary, adjusted[n], look.alpha))
        primary = v.primary
        results[n] = _result(n, "primary", v.primary, p_b[n], p_w[n], adjusted[n], pct, status,
                             v.verdict == "accepted")

    reasons += _whole(baseline.whole, candidate.whole, contract)
    if reasons:
        name: gate.VerdictName = "rejected"
    elif undecided:
        name, reasons = "inconclusive", undecided
    else:
        name = "accepted" if primary is not None and primary.passed else "rejected"
    ordered = tuple(results[n] for n in names)
    unchanged = sum(1 for b in ordered if b.status == "unchanged")
    threshold = {"type": contract.threshold.type, "pct_min": contract.threshold.pct_min,
                 "absolute_min": contract.threshold.absolute_min,
                 "significance_required": contract.threshold.significance_required, "mode": mode}
    return SuiteVerdict(name, primary, (), tuple(reasons), threshold, look, ordered,
                        _summary(contract, unchanged, geomean))


# -- the pieces ----------------------------------------------------------------------------

def _fields(v: Verdict) -> dict[str, Any]:
    return {"verdict": v.verdict, "primary": v.primary, "watchdogs": v.watchdogs,
            "reasons": v.reasons, "threshold": v.threshold, "look": v.look}


def _names(baseline: SuiteSamples, candidate: SuiteSamples, contract) -> list[str]:
    """The benchmarks gated: those with the primary metric, which both sides must have."""
    prim = contract.metrics.primary.name
    b = {n for n, v in baseline.benchmarks.items() if v.get(prim)}
    c = {n for n, v in candidate.benchmarks.items() if v.get(prim)}
    for name, side, other in sorted([(n, "candidate", "baseline") for n in b - c]
                                    + [(n, "baseline", "candidate") for n in c - b]):
        raise SuiteError(f"{contract.source}: suite: benchmark {name!r} is missing on the {side} "
                         f"(the {other} has it); a suite is compared only when both sides "
                         "report the same benchmarks")
    if not b:
        raise SuiteError(f"{contract.source}: suite: no benchmark has values for "
                         f"{prim} on either side")
    return sorted(b)


def _p(contract, base: Sequence[float], cand: Sequence[float], lower_is_better: bool) -> float:
    """One benchmark's one-sided p: its invocations paired by round under `wilcoxon` (they
    alternate ABBA like single runs), else Mann-Whitney."""
    if contract.significance.paired:
        return stats.wilcoxon(base, cand, lower_is_better=lower_is_better).p_value
    return stats.mann_whitney(base, cand, lower_is_better=lower_is_better).p_value


def _view(contract, name: str, base, cand, pct: float | None, mode_limit: bool = False):
    """The contract as it applies to one benchmark: its threshold, and only the watchdogs that
    benchmark reports on both sides."""
    have = set(base[name]) & set(cand[name])
    watchdogs = [w for w in contract.metrics.watchdogs if w.name in have]
    update: dict[str, Any] = {"metrics": contract.metrics.model_copy(
        update={"watchdogs": watchdogs})}
    if pct is not None and pct != contract.threshold.pct_min:
        update["threshold"] = contract.threshold.model_copy(update={"pct_min": pct})
    if mode_limit:   # a watchdog's limit is a percentage, whatever the primary's threshold is
        update["threshold"] = contract.threshold.model_copy(
            update={"type": "pct", "pct_min": pct, "significance_required": True})
    return contract.model_copy(update=update)


def _regression(n: str, base, cand, contract, look: Look, alpha: float) -> Verdict:
    """gate.decide in no-regression mode at the benchmark's regression limit and this alpha:
    rejected = regressed significantly beyond it, inconclusive = beyond it by the median but
    not significantly, accepted = not beyond it."""
    _, limit = contract.suite.limit(n, contract.threshold.pct_min)
    view = _view(contract, n, base, cand, limit, mode_limit=True)
    tail = 1 - statistics.NormalDist().cdf(look.z_min)
    z = statistics.NormalDist().inv_cdf(1 - tail * alpha / look.alpha) if look.alpha else look.z_min
    return gate.decide(Samples(base[n]), Samples(cand[n]), view, mode="no-regression",
                       look=replace(look, alpha=alpha, z_min=z))


def _changed(r, adjusted: float, alpha: float) -> Status:
    if r is None or r.change_pct is None or adjusted >= alpha:
        return "unchanged"
    return "improved" if r.change_pct > 0 else "slower"


def _result(name: str, role, r, p_b: float, p_w: float, adjusted: float, limit, status: Status,
            passed: bool) -> BenchmarkResult:
    return BenchmarkResult(name, role, r.baseline_median, r.candidate_median, r.change_pct,
                           r.ci_low, r.ci_high, p_b, p_w, adjusted, limit, r.n_baseline,
                           r.n_candidate, status, passed)


def _after(correction: str) -> str:
    return "no correction" if correction == "none" else f"after {correction} correction"


def _corrected(reason: str, correction: str, adjusted: float) -> str:
    return f"{reason} ({_after(correction)}: adjusted p = {adjusted:.3g})"


def _judge_geomean(base, cand, contract, mode: Mode, look: Look):
    """The geometric mean of the median ratios: clears the threshold, significantly (the
    bootstrap's one-sided p below the look's alpha)? Same three answers as gate.decide."""
    prim, t = contract.metrics.primary, contract.threshold
    names = sorted(base)
    rows_b = min(len(base[n][prim.name]) for n in names)
    rows_c = min(len(cand[n][prim.name]) for n in names)
    matrix_b = [[base[n][prim.name][i] for n in names] for i in range(rows_b)]
    matrix_c = [[cand[n][prim.name][i] for n in names] for i in range(rows_c)]
    g = stats.geomean_ratio(matrix_b, matrix_c)
    gb = _geo([statistics.median(base[n][prim.name]) for n in names])
    gc = _geo([statistics.median(cand[n][prim.name]) for n in names])
    label = f"geomean({prim.name})"
    if g is None or gb is None or gc is None:
        r = gate.MetricResult(label, "", prim.lower_is_better, "primary", gb, gc, None, None,
                              None, None, "geomean_bootstrap", look.alpha, rows_b, rows_c,
                              t.pct_min, False)
        return r, [f"{label}: a median is 0 or negative, so no ratio exists"], []
    gain = change_pct(gb, gc, prim.lower_is_better)
    better_p, worse_p = ((g.p_better, g.p_worse) if prim.lower_is_better
                         else (g.p_worse, g.p_better))
    p = better_p if mode == "improvement" else worse_p
    r = gate.MetricResult(label, "", prim.lower_is_better, "primary", gb, gc, gain, g.ci_low,
                          g.ci_high, p, "geomean_bootstrap", look.alpha, rows_b, rows_c,
                          t.pct_min, False)
    pct = t.pct_min or 0.0
    moved = f"(ratio {g.ratio:.3f}, 95% CI [{g.ci_low:.3f}, {g.ci_high:.3f}])"
    sig = f"bootstrap p = {p:.3g}"
    if mode == "no-regression":
        if -gain >= pct and p < look.alpha:
            return r, [f"{label} got {-gain:.1f}% worse {moved}, beyond the {pct:g}% threshold, "
                       f"significant: {sig} < {look.alpha:.3g}"], []
        if -gain >= pct:
            return r, [], [f"{label} got {-gain:.1f}% worse {moved}, beyond the {pct:g}% "
                           f"threshold, but not significantly: {sig} >= {look.alpha:.3g}"]
        # A pass needs a regression of the threshold ruled out, not merely unobserved: the
        # worse end of the bootstrap CI must stay below it (as gate.decide's non-inferiority).
        worst = 100 * ((g.ci_high - 1) if prim.lower_is_better else (1 - g.ci_low))
        if worst >= pct:
            return r, [], [f"{label} moved {gain:+.1f}% {moved}, but a regression of {pct:g}% "
                           f"is not ruled out: the CI allows {worst:.1f}% worse"]
        return replace(r, passed=True), [], []
    best = 100 * ((1 - g.ci_low) if prim.lower_is_better else (g.ci_high - 1))
    if gain <= 0:
        word = "did not change" if gain == 0 else f"got {-gain:.1f}% worse"
        return r, [f"{label} {word} {moved}"], []
    if gain < pct:
        text = f"{label} improved {gain:.1f}% {moved}, below the {pct:g}% threshold"
        if best >= pct:
            return r, [], [f"{text}, but the CI allows up to {best:.1f}%: too wide to tell"]
        return r, [text], []
    if t.significance_required and p >= look.alpha:
        return r, [], [f"{label} improved {gain:.1f}% {moved}, but not significantly: "
                       f"{sig} >= {look.alpha:.3g}"]
    return replace(r, passed=True), [], []


def _geo(values: Sequence[float]) -> float | None:
    import math

    if not values or any(v <= 0 for v in values):
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _whole(base: Mapping[str, Sequence[float]], cand: Mapping[str, Sequence[float]],
           contract) -> list[str]:
    """Watchdogs on what only the invocation as a whole has (an external harness's memory,
    say): checked as gate.decide checks any watchdog, by the median."""
    out = []
    for w in contract.metrics.watchdogs:
        b, c = base.get(w.name), cand.get(w.name)
        if not b or not c:
            continue
        ch = change_pct(statistics.median(b), statistics.median(c), w.lower_is_better)
        if ch is not None and -ch > w.max_regression_pct:
            out.append(f"watchdog {w.name} of the whole suite run regressed {-ch:.1f}%, more "
                       f"than its {w.max_regression_pct:g}% limit")
    return out


def _summary(contract, unchanged: int, geomean) -> dict[str, Any]:
    s = contract.suite
    out: dict[str, Any] = {"primary": s.primary, "correction": s.correction,
                           "statistic": s.statistic, "format": s.format or "perfgate",
                           "unchanged": unchanged, "geomean": None}
    if geomean is not None:
        out["geomean"] = {"ratio": (geomean.candidate_median / geomean.baseline_median
                                    if geomean.baseline_median and geomean.candidate_median
                                    else None),
                          "change_pct": geomean.change_pct, "ci_low": geomean.ci_low,
                          "ci_high": geomean.ci_high, "p_value": geomean.p_value}
    return out


# -- samples -----------------------------------------------------------------------------

def side_samples(side, contract) -> SuiteSamples:
    """A measured side's values, from its in-memory records (what an adaptive round sees)."""
    names = {m.name for m in contract.metrics.all()}
    per: dict[str, dict[str, list[float]]] = {}
    whole: dict[str, list[float]] = {}
    for rec in side.records:
        for bench, values in rec.benchmarks.items():
            for k, v in values.items():
                if k in names:
                    per.setdefault(bench, {}).setdefault(k, []).append(v)
        for k in names:
            if k in rec.metrics:
                whole.setdefault(k, []).append(rec.metrics[k])
    return SuiteSamples(per, whole, tuple(side.problems))


def stored_samples(store, session_ids: Sequence[int], contract) -> list[SuiteSamples]:
    """Each session's values as stored (what SQL sees is what decides)."""
    names = [m.name for m in contract.metrics.all()]
    per = store.suite_values(session_ids, names)
    whole = store.values(session_ids, names)
    return [SuiteSamples(per[sid], whole[sid]) for sid in session_ids]


def next_round(c, looks: tuple[Look, ...], reached: list[Look], base, cand,
               base_values: SuiteSamples | None, mode: str):
    """measuring._next_round for a suite: more invocations while the suite is inconclusive."""
    def more(done: int) -> int:
        look = reached[-1]
        if look.final:
            return 0
        b = base_values or side_samples(base, c)
        verdict = decide(b, side_samples(cand, c), c, mode=mode, look=look)  # type: ignore[arg-type]
        if verdict.verdict != "inconclusive":
            return 0
        reached.append(looks[look.number])
        return reached[-1].runs - done
    return more
