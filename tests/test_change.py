"""The threshold arithmetic the gate, bisect and detect share (perfgate.change): pure."""
import pytest

from perfgate.change import best_gain, change_pct, clears, regression_margin, signed
from perfgate.contract import Threshold
from perfgate.verdict import MetricResult


def result(base: float, ci: tuple[float, float], lower_is_better: bool = True) -> MetricResult:
    return MetricResult("m", "s", lower_is_better, "primary", base, None, None, ci[0], ci[1],
                        None, None, None, 5, 5, None, False)


def test_change_is_positive_when_better_either_way():
    assert change_pct(2.0, 1.5, lower_is_better=True) == pytest.approx(25.0)
    assert change_pct(2.0, 2.5, lower_is_better=False) == pytest.approx(25.0)
    assert change_pct(2.0, 2.5, lower_is_better=True) == pytest.approx(-25.0)
    assert change_pct(0.0, 1.0, lower_is_better=True) is None
    # A negative baseline (a margin, a balance): its size is what the percentage is of.
    assert change_pct(-2.0, -1.0, lower_is_better=False) == pytest.approx(50.0)


def test_best_and_worst_case_of_the_interval_follow_the_baseline_s_sign():
    assert best_gain(result(1.0, (0.7, 0.9))) == (pytest.approx(30.0), pytest.approx(0.3))
    assert best_gain(result(1.0, (0.7, 0.9)), worse=True)[0] == pytest.approx(-10.0)
    # Higher is better and the baseline is negative: a ratio below 1 (e.g. -2 → -1.4) is a
    # gain, above 1 a loss, the mirror image of the positive case.
    assert best_gain(result(-2.0, (0.7, 1.2), lower_is_better=False))[0] == pytest.approx(30.0)
    assert best_gain(result(-2.0, (0.7, 1.2), lower_is_better=False),
                     worse=True)[0] == pytest.approx(20.0)
    assert best_gain(result(0.0, (0.7, 0.9))) == (None, None)


def test_a_gain_clears_pct_absolute_or_both():
    pct = Threshold(type="pct", pct_min=10)
    both = Threshold(type="both", pct_min=10, absolute_min=0.5)
    assert clears(pct, 12.0, 0.01) and not clears(pct, 8.0, 5.0)
    assert not clears(both, 12.0, 0.4) and clears(both, 12.0, 0.6)
    assert not clears(pct, None, None) and not clears(pct, -20.0, -1.0)


def test_the_margin_ruled_out_is_the_larger_of_both_limits():
    assert regression_margin(Threshold(type="pct", pct_min=5), 2.0) == pytest.approx(0.05)
    both = Threshold(type="both", pct_min=5, absolute_min=0.2)
    assert regression_margin(both, 2.0) == pytest.approx(0.10)     # 0.2 of 2.0 binds
    assert regression_margin(Threshold(type="absolute", absolute_min=0.2), 0.0) is None


def test_signed_words():
    assert signed(3.14) == "3.1% better" and signed(-4.0) == "4.0% worse"
    assert signed(None) == "by an unknown amount" and signed(None, "–") == "–"
