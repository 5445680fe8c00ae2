"""The look plan of an adaptive gate: when to decide again, and how much alpha each look may spend.

Peeking at a test after every batch of runs and stopping at the first p < alpha inflates the
false-accept rate well past alpha (with 6 looks at 0.05 it is about 0.14 for a z-test). The plan
splits alpha over the planned looks (a Bonferroni split, spent in proportion to the runs each
look adds), so the union bound keeps the chance of any false accept, over all looks, <= alpha.
Stopping early for futility ("clearly not going to clear the threshold") only ever gives up
accepts, so it needs no correction. Pure arithmetic: no scipy, no I/O.
"""
from __future__ import annotations

import os
import statistics
from dataclasses import dataclass

from perfgate.power import min_p, mw_min_p

# The 2-sigma rule's one-sided tail (z > 2), split over looks like alpha.
TWO_SIGMA_TAIL = 1 - statistics.NormalDist().cdf(2.0)


@dataclass(frozen=True)
class Look:
    """One planned decision over the data: after `runs` runs per side."""

    number: int        # 1-based
    of: int            # looks planned
    runs: int          # runs per side when this look is taken
    alpha: float       # the share of the contract's alpha this look may spend (0: cannot accept)
    z_min: float       # the 2-sigma rule's bar at this look (exactly 2 for a single look)

    @property
    def final(self) -> bool:
        return self.number == self.of


def single(runs: int, alpha: float) -> Look:
    """A fixed-N gate: one look with the whole alpha."""
    return Look(1, 1, runs, alpha, 2.0)


def plan(first: int, max_runs: int, alpha: float, *, adaptive: bool,
         test: str = "mann_whitney") -> tuple[Look, ...]:
    """Looks after `first` runs per side, then after every further `first` runs, up to max_runs.

    Alpha is shared in proportion to the runs each look adds; a look whose smallest possible
    exact p (Mann-Whitney's, or the signed-rank test's for `test` wilcoxon, whose floor is
    higher: 1/32 at 5 pairs) cannot get under its share gets none, and its share goes to the
    rest (so a 4-run first look does not waste alpha it can never use).
    """
    if not adaptive or max_runs <= first:
        return (single(first, alpha),)
    runs = list(range(first, max_runs, first)) + [max_runs]
    added = [runs[0]] + [b - a for a, b in zip(runs, runs[1:], strict=False)]
    usable = set(range(len(runs)))
    while True:
        total = sum(added[i] for i in usable)
        share = {i: alpha * added[i] / total for i in usable}
        dead = {i for i in usable if _floor(test, runs[i]) >= share[i]}
        if not dead or dead == usable:
            break
        usable -= dead
    tails = {i: TWO_SIGMA_TAIL * added[i] / sum(added) for i in range(len(runs))}
    return tuple(Look(i + 1, len(runs), n, share.get(i, 0.0), _z(1 - tails[i]))
                 for i, n in enumerate(runs))


def _floor(test: str, n: int) -> float:
    """The smallest p with n runs a side; the 2-sigma rule has none, and its looks are planned
    as Mann-Whitney's always were."""
    p = min_p(test, n, n)
    return mw_min_p(n, n) if p is None else p


def _z(q: float) -> float:
    return statistics.NormalDist().inv_cdf(q)


def adaptive_enabled(setting: bool | None, override: bool | None = None,
                     mode: str = "improvement") -> bool:
    """--adaptive/--no-adaptive, else the contract, else on for interactive use and off in CI
    (where the runner's minutes are budgeted and `$CI` is set by every major provider) -- except
    for a no-regression check, which passes only when a regression is ruled out: when the first
    round cannot tell, more rounds (up to the cap) are what stands between it and exit 4."""
    if override is not None:
        return override
    if setting is not None:
        return setting
    if mode == "no-regression":
        return True
    return os.environ.get("CI", "").lower() in ("", "0", "false", "no")
