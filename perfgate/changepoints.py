"""Change points of a series: E-Divisive means with a permutation test (Otava's implementation).

Matteson & James (2014): split the series where the energy distance between the two sides is
largest, test that split by permuting the points within the current segments, and keep
splitting while the split is significant. Apache Otava and MongoDB run this over their
performance histories; the code is Otava's (perfgate/_vendor/otava_divisive). Pure: numpy
only, no I/O.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perfgate.stats import SEED

ALPHA = 0.01
PERMUTATIONS = 199


@dataclass(frozen=True)
class ChangePoint:
    index: int          # the first point after the change
    p_value: float      # permutation test of the split, (extreme + 1) / (permutations + 1)
    qhat: float         # the energy statistic of the split


def e_divisive(series: Sequence[float], *, alpha: float = ALPHA,
               permutations: int = PERMUTATIONS, seed: int = SEED) -> list[ChangePoint]:
    """The significant change points of `series`, in order. Each split is tested once, at
    alpha; the first split that is not significant ends the search, so on a series without
    a change the chance of reporting any is about alpha."""
    import numpy as np

    from perfgate._vendor.otava_divisive.calculator import PairDistanceCalculator
    from perfgate._vendor.otava_divisive.detector import ChangePointDetector
    from perfgate._vendor.otava_divisive.significance_test import PermutationsSignificanceTester

    class Tester(PermutationsSignificanceTester):
        # Otava's p is extreme / (permutations + 1), which can be 0; counting the observed
        # split among the permutations gives a valid p-value (Phipson & Smyth 2010).
        def change_point(self, candidate, series, intervals):
            cp = super().change_point(candidate, series, intervals)
            cp.stats.pvalue = (int(cp.stats.extreme_qhat_perm) + 1) / (self.permutations + 1)
            return cp

    values = np.asarray(list(series), dtype=np.float64)
    if len(values) < 3 or np.all(values == values[0]):
        return []
    tester = Tester(max_pvalue=alpha, permutations=permutations,
                    calculator=PairDistanceCalculator, seed=seed)
    found = ChangePointDetector(significance_tester=tester,
                                calculator=PairDistanceCalculator).get_change_points(values)
    return [ChangePoint(int(cp.index), float(cp.stats.pvalue), float(cp.qhat)) for cp in found]
