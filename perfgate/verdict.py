"""What the gate decides, as data: the two samples it is given, each metric's result, the verdict
and its versioned document (verdict.json, `--json`). gate.py computes them; nothing here decides."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

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
    # The non-inferiority test's p (H0: worse by at least the limit); None where not run.
    p_not_worse: float | None = None


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
                                      "passed", "p_not_worse")})
        watchdogs = [_clean({"name": w.name, "unit": w.unit, "lower_is_better": w.lower_is_better,
                             "baseline_median": w.baseline_median,
                             "candidate_median": w.candidate_median,
                             "change_pct": w.change_pct, "max_regression_pct": w.limit_pct,
                             "p_not_worse": w.p_not_worse, "passed": w.passed})
                     for w in self.watchdogs]
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
