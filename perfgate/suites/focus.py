"""Which benchmarks of a suite the loop works on, and what it runs to profile them.

The contract may name them (`suite.target`), or its primary benchmark; otherwise the slowest
benchmark of the baseline, where a fix moves the suite most. Everything else in the suite is
a watchdog in the gate automatically (suite_gate)."""
from __future__ import annotations

import statistics

from perfgate.suites import spec


def targets(contract, store=None, baseline_session: int | None = None) -> list[str]:
    suite = contract.suite
    if suite.target:
        return list(suite.target)
    if suite.primary != spec.GEOMEAN:
        return [suite.primary]
    if store is not None and baseline_session:
        prim = contract.metrics.primary.name
        per = store.suite_values([baseline_session], [prim])[baseline_session]
        medians = {n: statistics.median(v[prim]) for n, v in per.items()
                   if v.get(prim) and suite.selected(n)}
        if medians:
            return [max(medians, key=medians.get)]
    if suite.benchmarks:
        return [next(b.name for b in spec.expand(suite.benchmarks) if suite.selected(b.name))]
    return []


def script(contract, target: str | None) -> str:
    """What to profile: the target's own command (perfgate's list), else the harness command
    (its results go nowhere); a contract's repro script, when it has one, wins."""
    if contract.repro.script:
        return contract.repro.script
    suite = contract.suite
    if suite.benchmarks:
        chosen = [b for b in spec.expand(suite.benchmarks) if b.name == target]
        return (chosen or spec.expand(suite.benchmarks))[0].script
    return (suite.command or "").replace("{output}", "/dev/null")


def fill(command: str, contract, target: str | None) -> str:
    """A profiler command's {benchmark} (the target's name) and {script} placeholders."""
    return command.replace("{benchmark}", target or "").replace("{script}",
                                                                  script(contract, target))


def goal(contract, names: list[str]) -> str:
    s = contract.suite
    shown = ", ".join(f"`{n}`" for n in names) or "the suite"
    primary = ("the geometric mean of every benchmark" if s.primary == spec.GEOMEAN
               else f"`{s.primary}`")
    plural = "s" if len(names) != 1 else ""
    return (f"Make {shown} faster (benchmark{plural} of the suite; the gate's primary is "
            f"{primary}). Every other benchmark is a watchdog: none may get significantly "
            f"slower than {s.max_regression_pct:g}% ({s.correction} correction)")
