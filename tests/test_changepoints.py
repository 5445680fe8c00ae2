"""E-Divisive means (Otava's code, vendored) on series with known steps, and flat ones."""
from __future__ import annotations

import numpy as np

from perfgate.changepoints import e_divisive


def noisy(n, steps=(), cv=0.03, seed=0):
    rng = np.random.default_rng(seed)
    level = np.ones(n)
    for at, factor in steps:
        level[at:] *= factor
    return level * rng.normal(1, cv, n)


def test_a_step_is_found_where_it_is():
    for seed in range(5):
        cps = e_divisive(noisy(60, [(37, 1.10)], seed=seed))
        assert [abs(cp.index - 37) <= 1 for cp in cps] == [True], (seed, cps)
        assert 0 < cps[0].p_value <= 0.01


def test_two_steps_both_ways():
    cps = e_divisive(noisy(90, [(30, 1.5), (60, 0.8)], seed=7))
    assert [cp.index for cp in cps] == [30, 60]


def test_flat_noisy_series_have_no_change():
    false = [seed for seed in range(20) if e_divisive(noisy(60, cv=0.1, seed=100 + seed))]
    assert len(false) <= 1, false


def test_degenerate_series():
    assert e_divisive([1.0] * 30) == [] and e_divisive([1.0, 2.0]) == []
    # The p-value counts the observed split among the permutations: never 0.
    (cp,) = e_divisive([1.0] * 20 + [2.0] * 20, permutations=19, alpha=0.05)
    assert cp.index == 20 and cp.p_value == 1 / 20
