"""Did the primary metric move between two commits? The gate's own rule, asked both ways. Pure.

A bisection asks a two-sided question of every pair of commits: moved (by at least the
threshold, significantly, either way), the same (what the gate calls a clear "no" in both
directions: the median moved less than the threshold and the 95% CI of the ratio does not
reach it on the side the median moved to), or unclear (neither yet: more runs, or say so).
Each direction is `gate.decide` itself (improvement for "after is better", no-regression for
"after is worse", with the improvement mode's CI rule mirrored for the worse side), so the
threshold types, the tests, the CI and the looks are the gate's; the looks a bisection hands
in carry half the alpha, one half per direction.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from perfgate import gate
from perfgate.change import best_gain, clears, moved_text, signed, subject

if TYPE_CHECKING:
    from perfgate.contract import Contract
    from perfgate.sequential import Look

State = Literal["moved", "same", "unclear"]


@dataclass(frozen=True)
class Shift:
    """One judged pair: the earlier commit (before) against the later one (after)."""

    state: State
    direction: Literal["better", "worse"] | None   # of a move; None when same or unclear
    before_median: float | None
    after_median: float | None
    change_pct: float | None        # positive is better, % of the before median (as the gate)
    ci_low: float | None            # bootstrap 95% CI of median(after) / median(before)
    ci_high: float | None
    p_value: float | None           # the one-sided test in the direction the medians moved
    alpha: float | None             # what p was held against (the look's share, one direction)
    n_before: int
    n_after: int
    reasons: tuple[str, ...]

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["reasons"] = list(self.reasons)
        return d


def primary_only(contract: Contract) -> Contract:
    """The contract with its watchdogs removed: a bisection follows the primary metric alone."""
    metrics = contract.metrics.model_copy(update={"watchdogs": []})
    return contract.model_copy(update={"metrics": metrics})


def for_bisection(contract: Contract, test: str | None = None) -> Contract:
    """The contract a bisection judges its pairs by: the primary alone, and the paired
    signed-rank test unless `test` names another. A bisection measures every pair together,
    interleaved, so the pairing the paired test needs is always there; on this shared
    machine it found both steps of bench/bisect_bench.py's two-step history where
    Mann-Whitney, pooling each side, left the smaller one unclear (docs/bisect.md)."""
    sig = contract.significance.model_copy(update={"test": test or "wilcoxon"})
    return primary_only(contract).model_copy(update={"significance": sig})


def judge(before: Sequence[float], after: Sequence[float], contract: Contract,
          look: Look) -> Shift:
    """moved / same / unclear for the primary metric, from `before` to `after`."""
    c = primary_only(contract)
    name = c.metrics.primary.name
    paired = c.significance.paired
    a, b = gate.Samples({name: list(before)}), gate.Samples({name: list(after)})
    better = gate.decide(a, b, c, mode="improvement", look=look)
    # The worse direction's "not beyond" is weighed below by the CI, as the improvement mode
    # weighs its own (a bisection's question, asked the way the bench measured it; CI mode's
    # non-inferiority pass left 5 of 7 trial bisections unclear at the cap on this machine).
    worse = gate.decide(a, b, c, mode="no-regression", look=look, rule_out=False)
    p = better.primary
    if p is None:      # no values on a side: nothing to judge
        return Shift("unclear", None, None, None, None, None, None, None, None, len(before),
                     len(after), better.reasons)

    def shift(state: State, direction, chosen: gate.Verdict, reasons) -> Shift:
        q = chosen.primary or p
        return Shift(state, direction, p.baseline_median, p.candidate_median, p.change_pct,
                     p.ci_low, p.ci_high, q.p_value, q.alpha, p.n_baseline, p.n_candidate,
                     tuple(reasons))

    if better.verdict == "accepted":
        return shift("moved", "better", better, [_moved_text(p, "better")])
    if worse.verdict == "rejected" and worse.primary is not None and \
            worse.primary.change_pct is not None:
        return shift("moved", "worse", worse, worse.reasons)
    undecided = [v for v in (better, worse) if v.verdict == "inconclusive"]
    if undecided:
        return shift("unclear", None, undecided[0], undecided[0].reasons)
    if p.ci_low is None or p.ci_high is None:
        return shift("unclear", None, better, better.reasons or ("no interval of the ratio",))
    # The gate calls a median that improved by less than the threshold undecided when the CI
    # still allows the threshold (improvement mode, above); the same in the worse direction.
    pct, absolute = best_gain(p, worse=True)
    if p.change_pct is not None and p.change_pct < 0 and clears(c.threshold, pct, absolute):
        return shift("unclear", None, better, [
            f"{subject(name, paired)} got {-p.change_pct:.1f}% worse "
            f"{moved_text(p, paired)}, below the threshold, but the 95% CI of the ratio "
            f"[{p.ci_low:.3g}, "
            f"{p.ci_high:.3g}] allows {pct:.1f}% worse: too wide to tell "
            f"(n = {p.n_baseline} vs {p.n_candidate})"])
    return shift("same", None, better, [
        f"{subject(name, paired)} moved {signed(p.change_pct)} "
        f"{moved_text(p, paired)}: "
        "less than the threshold, and the 95% CI of the ratio "
        f"[{p.ci_low:.3g}, {p.ci_high:.3g}] does not reach it in that direction"])


def _moved_text(p: gate.MetricResult, way: str) -> str:
    paired = p.test == "wilcoxon"
    return (f"{subject(p.name, paired)} got {abs(p.change_pct or 0):.1f}% {way} "
            f"{moved_text(p, paired)}, "
            f"p = {p.p_value:.3g} < {p.alpha:.3g}")
