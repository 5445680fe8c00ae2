"""Scoping a suite: what its pre-flight invocations showed, and whether it can pass at all."""
from __future__ import annotations

import math
import statistics

from perfgate import power, stats
from perfgate.suites import spec


def check(contract, records) -> tuple[list[str], list[str]]:
    """(problems, notes) of a suite's pre-flight invocations: every benchmark must report the
    primary metric in every invocation; the notes give the noise per benchmark and whether
    N runs can ever clear the correction's strictest bar."""
    suite, prim = contract.suite, contract.metrics.primary.name
    ok = [r for r in records if r.ok]
    names = sorted({b for r in ok for b in r.benchmarks})
    problems = [f"benchmark {n}: {prim} not reported in every invocation" for n in names
                if sum(1 for r in ok if prim in r.benchmarks.get(n, {})) < len(ok)]
    notes = [f"{len(names)} benchmarks: {spec._some(names, 8)}" if names else "no benchmarks"]
    cvs = {}
    for n in names:
        vals = [r.benchmarks[n][prim] for r in ok if prim in r.benchmarks.get(n, {})]
        if len(vals) >= 2 and statistics.fmean(vals):
            cvs[n] = statistics.stdev(vals) / abs(statistics.fmean(vals))
    if cvs:
        worst = max(cvs, key=cvs.get)
        notes.append(f"{prim} CV per invocation: median {statistics.median(cvs.values()) * 100:.1f}%"
                     f", largest {cvs[worst] * 100:.1f}% ({worst})")
    n, alpha = contract.repro.measurement_runs, contract.significance.alpha
    m = max(1, len(names) - (0 if suite.primary == spec.GEOMEAN else 1))
    # "changed" is two-sided (2 x the smaller one-sided p), held to Holm's strictest bar.
    bar = (alpha / m if suite.correction == "holm" else alpha) / 2
    test = "wilcoxon" if contract.significance.paired else "mann_whitney"
    pmin = power.min_p(test, n, n)
    need = power.min_n(test, bar)
    if suite.correction == "none":
        notes.append(f"WARNING: correction none: with {m} benchmarks each tested at alpha "
                     f"{alpha:g}, the chance that some unchanged benchmark is flagged is about "
                     f"{100 * (1 - (1 - alpha) ** m):.0f}%; holm keeps it at {alpha:g}")
    if pmin >= bar:
        notes.append(f"IMPOSSIBLE: with {n} vs {n} runs the smallest one-sided "
                     f"{stats.RANK_TEST_NAMES[test]} p is {pmin:.3g}, never below "
                     f"{suite.correction}'s strictest bar over {m} "
                     f"benchmarks ({bar:.3g}, each side of a two-sided test); no benchmark can "
                     f"be called changed: use measurement_runs >= {need}")
    else:
        notes.append(f"with {n} vs {n} runs the smallest p is {pmin:.3g}, below "
                     f"{suite.correction}'s strictest bar over {m} benchmarks ({bar:.3g}, each "
                     "side of a two-sided test)")
    if cvs and math.isfinite(max(cvs.values())):
        mde = power.min_detectable_effect_pct(statistics.median(cvs.values()), n, bar)
        if math.isfinite(mde):
            notes.append(f"smallest change one benchmark can show at that bar: about {mde:.1f}%")
    return problems, notes


def describe(contract) -> list[str]:
    """The suite section of scoping.md."""
    s = contract.suite
    out = [f"- source: {s.format} (`{s.command}`)" if s.external else
           f"- source: perfgate's own list, {len(spec.expand(s.benchmarks or []))} benchmarks "
           "after params"]
    if s.include or s.exclude:
        out.append(f"- include: {s.include or ['*']}, exclude: {s.exclude or []}")
    out += [f"- primary: {s.primary}", f"- correction: {s.correction}",
            f"- watchdog limit: {s.max_regression_pct:g}% worse"
            + (f" (overrides: {', '.join(s.limits)})" if s.limits else ""),
            f"- one sample per benchmark per invocation: its {s.statistic}"]
    return out
