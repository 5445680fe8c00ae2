"""shift.judge: the gate's rule asked both ways, on plain values (pure)."""
from __future__ import annotations

import textwrap

import pytest

from perfgate import contract, sequential, shift
from tests.test_gate_loop import spread

C = contract.from_mapping(__import__("yaml").safe_load(textwrap.dedent("""\
    name: t
    domain: cli_startup
    repro: {script: run-it, measurement_runs: 5, max_measurement_runs: 15}
    metrics:
      primary: {name: wall_time}
      watchdogs: [{name: peak_rss, max_regression_pct: 10}]
    threshold: {type: pct, pct_min: 20}
    """)), "t.yaml")
LOOKS = sequential.plan(5, 15, 0.05 / 2, adaptive=True)


def judge(before, after, look=LOOKS[-1]):
    return shift.judge(before, after, C, look)


def test_moves_either_way_and_the_watchdogs_do_not_count():
    worse = judge(spread(1.0, 15), spread(1.5, 15))
    assert (worse.state, worse.direction) == ("moved", "worse")
    assert worse.change_pct == pytest.approx(-50, abs=1) and worse.p_value < worse.alpha
    better = judge(spread(1.0, 15), spread(0.6, 15))
    assert (better.state, better.direction) == ("moved", "better")
    assert better.reasons[0].startswith("wall_time median got 40.0% better")
    assert shift.primary_only(C).metrics.watchdogs == [] and C.metrics.watchdogs


def test_same_is_a_clear_no_both_ways():
    same = judge(spread(1.0, 15), spread(1.02, 15))
    assert same.state == "same" and same.direction is None
    assert "less than the threshold" in same.reasons[0]


def test_unclear_when_significance_or_the_interval_is_missing():
    # 50% slower, but 3 vs 3 runs can never be significant at this alpha.
    few = judge([1.0, 1.01, 0.99], [1.5, 1.49, 1.52], LOOKS[0])
    assert few.state == "unclear" and "not significantly" in few.reasons[0]
    # 10% slower (below 20%) but so spread out the interval reaches 20% worse.
    wide = judge([1.0, 1.3, 0.7, 1.0, 1.2], [1.1, 1.5, 0.8, 1.1, 1.3], LOOKS[0])
    assert wide.state == "unclear" and "allows" in wide.reasons[0] and "worse" in \
        wide.reasons[0]
    # The mirror image: 10% better, interval reaching 20% better: the gate's own rule.
    mirror = judge([1.1, 1.5, 0.8, 1.1, 1.3], [1.0, 1.3, 0.7, 1.0, 1.2], LOOKS[0])
    assert mirror.state == "unclear" and "too wide to tell" in mirror.reasons[0]


def test_the_look_decides_the_alpha_and_a_bisection_halves_it():
    # 4 vs 4 with one overlap: one-sided p = 2/70 ≈ 0.029, a move at alpha 0.05, not at the
    # 0.025 a bisection spends per direction.
    before, after = [1.0, 1.01, 0.99, 1.495], [1.5, 1.49, 1.52, 1.55]
    assert judge(before, after, sequential.single(4, 0.05)).state == "moved"
    assert judge(before, after, sequential.single(4, 0.025)).state == "unclear"
    assert LOOKS[0].alpha == pytest.approx(0.025 * 5 / 15)
