"""The adaptive gate's plan and its decisions: alpha is never overspent, peeking is corrected,
and an undecided primary is `inconclusive`, not a rejection."""
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfgate import sequential
from perfgate.contract import from_mapping
from perfgate.gate import Samples, decide
from perfgate.sequential import Look, plan


def contract(pct_min=20.0, **over):
    data = {"name": "t", "domain": "cli_startup", "repro": {"script": "x", "measurement_runs": 5},
            "metrics": {"primary": {"name": "wall_time"}},
            "threshold": {"type": "pct", "pct_min": pct_min}}
    data.update(over)
    return from_mapping(data, "test")


@given(st.integers(3, 40), st.integers(3, 200), st.floats(0.001, 0.5))
def test_plan_spends_exactly_alpha_over_growing_looks(first, cap, alpha):
    looks = plan(first, max(first, cap), alpha, adaptive=True)
    assert sum(lk.alpha for lk in looks) == pytest.approx(alpha)
    assert [lk.number for lk in looks] == list(range(1, len(looks) + 1))
    assert all(lk.of == len(looks) for lk in looks)
    runs = [lk.runs for lk in looks]
    assert runs == sorted(set(runs)) and runs[0] == first and runs[-1] == max(first, cap)
    assert all(lk.z_min >= 2.0 for lk in looks)


def test_plan_fixed_and_useless_looks():
    assert plan(5, 30, 0.05, adaptive=False) == (Look(1, 1, 5, 0.05, 2.0),)
    assert plan(5, 5, 0.05, adaptive=True) == (Look(1, 1, 5, 0.05, 2.0),)
    looks = plan(5, 30, 0.05, adaptive=True)
    assert [lk.runs for lk in looks] == [5, 10, 15, 20, 25, 30]
    assert all(lk.alpha == pytest.approx(0.05 / 6) for lk in looks)
    # 4 vs 4 can never reach p < 0.05/8: that look gets no alpha, the others share it.
    looks = plan(4, 30, 0.05, adaptive=True)
    assert looks[0].alpha == 0 and sum(lk.alpha for lk in looks[1:]) == pytest.approx(0.05)


def test_adaptive_default_follows_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert sequential.adaptive_enabled(None) is True
    monkeypatch.setenv("CI", "true")
    assert sequential.adaptive_enabled(None) is False
    assert sequential.adaptive_enabled(True) is True
    assert sequential.adaptive_enabled(True, override=False) is False


def _gate(base, cand, c, looks, naive=False):
    """The measuring stage's rule over pre-drawn samples: decide at each look, stop unless
    inconclusive. naive=True spends the whole alpha at every look (uncorrected peeking)."""
    for look in looks:
        if naive:
            look = Look(look.number, look.of, look.runs, c.significance.alpha, 2.0)
        n = look.runs
        v = decide(Samples({"wall_time": base[:n]}), Samples({"wall_time": cand[:n]}), c,
                   look=look)
        if v.verdict != "inconclusive":
            return v
    return v


@pytest.mark.slow
def test_peeking_is_corrected_on_a_a_data():
    """A/A with no threshold (the worst case): uncorrected peeking over 6 looks accepts far more
    often than alpha; the split keeps it at or below alpha. Fixed seed, so exact."""
    c = contract(pct_min=0.0)
    looks = plan(5, 30, 0.05, adaptive=True)
    rng = random.Random(7)
    sims, corrected, naive = 300, 0, 0
    for _ in range(sims):
        base = [rng.gauss(1.0, 0.1) for _ in range(30)]
        cand = [rng.gauss(1.0, 0.1) for _ in range(30)]
        corrected += _gate(base, cand, c, looks).verdict == "accepted"
        naive += _gate(base, cand, c, looks, naive=True).verdict == "accepted"
    assert corrected / sims <= 0.05
    assert naive / sims > 0.07 and naive > 2 * corrected


BASE = [1.0, 2.0, 1.5, 0.5, 1.2]
NOISY_FAST = [0.3, 1.9, 0.5, 1.1, 0.6]


def test_undecided_primary_is_inconclusive_with_its_reason():
    v = decide(Samples({"wall_time": BASE}), Samples({"wall_time": NOISY_FAST}), contract())
    assert v.verdict == "inconclusive"
    assert v.reasons[0].startswith("not significant: one-sided Mann-Whitney (permutation) p = 0.171")
    assert v.primary.change_pct == pytest.approx(50.0)
    # Too wide to tell: below the threshold, but the CI reaches it.
    v = decide(Samples({"wall_time": BASE}), Samples({"wall_time": [x * 0.9 for x in BASE]}),
               contract())
    assert v.verdict == "inconclusive" and "too wide to tell" in v.reasons[0]
    # Clearly below the threshold (tight samples): a rejection, not more runs.
    tight = [1.00, 1.01, 0.99, 1.02, 0.98]
    v = decide(Samples({"wall_time": tight}), Samples({"wall_time": [x * 0.9 for x in tight]}),
               contract())
    assert v.verdict == "rejected"
    # Worse is never inconclusive.
    v = decide(Samples({"wall_time": NOISY_FAST}), Samples({"wall_time": BASE}), contract())
    assert v.verdict == "rejected"


def test_a_clear_no_outranks_an_undecided_primary():
    c = contract(metrics={"primary": {"name": "wall_time"},
                          "watchdogs": [{"name": "peak_rss", "max_regression_pct": 10}]})
    v = decide(Samples({"wall_time": BASE, "peak_rss": [100.0] * 5}),
               Samples({"wall_time": NOISY_FAST, "peak_rss": [150.0] * 5}), c)
    assert v.verdict == "rejected" and v.reasons[0].startswith("watchdog peak_rss regressed 50.0%")


def test_a_look_uses_its_share_of_alpha():
    base = [1.00, 1.02, 0.98, 1.01, 0.99]
    cand = [0.70, 0.72, 0.69, 0.985, 0.71]     # one swap: p = 2/252 = 0.0079 exact
    c = contract()
    assert decide(Samples({"wall_time": base}), Samples({"wall_time": cand}), c,
                  look=Look(1, 6, 5, 0.0083, 2.67)).verdict == "accepted"
    v = decide(Samples({"wall_time": base}), Samples({"wall_time": cand}), c,
               look=Look(1, 8, 5, 0.00625, 2.7))
    assert v.verdict == "inconclusive"
    assert "0.00625 (alpha 0.05 split over 8 looks, this is look 1)" in v.reasons[0]


def test_no_regression_mode_three_ways():
    c = contract()
    # The same noisy sample on both sides: a 20% regression is not ruled out by such data,
    # so no-regression does not pass it (absence of evidence), and says how far it could go.
    same = decide(Samples({"wall_time": BASE}), Samples({"wall_time": list(BASE)}), c,
                  mode="no-regression")
    assert same.verdict == "inconclusive"
    assert "a regression of 20% is not ruled out" in same.reasons[0]
    assert "allows" in same.reasons[0] and "worse, n = 5 vs 5" in same.reasons[0]
    tight = [1.00, 1.01, 0.99, 1.02, 0.98]
    same = decide(Samples({"wall_time": tight}), Samples({"wall_time": list(tight)}), c,
                  mode="no-regression")
    assert same.verdict == "accepted" and same.primary.p_not_worse < 0.05
    worse = decide(Samples({"wall_time": NOISY_FAST}), Samples({"wall_time": BASE}), c,
                   mode="no-regression")
    assert worse.verdict == "inconclusive" and "but not significantly" in worse.reasons[0]
    clear = decide(Samples({"wall_time": tight}), Samples({"wall_time": [x * 1.5 for x in tight]}),
                   c, mode="no-regression")
    assert clear.verdict == "rejected"


def test_inconclusive_document_matches_the_schema():
    from test_gate import _schema, _validate

    v = decide(Samples({"wall_time": BASE}), Samples({"wall_time": NOISY_FAST}), contract(),
               look=Look(3, 6, 15, 0.05 / 6, 2.67))
    doc = json.loads(json.dumps(v.to_document(contract="t", base={"commit": "a", "session": 1},
                                              candidate={"commit": None, "tree": "t",
                                                         "session": 2})))
    assert doc["verdict"] == "inconclusive"
    assert doc["sequential"] == {"adaptive": True, "rounds": 3, "looks": 3, "planned_looks": 6,
                                 "runs_per_side": 15, "look_alpha": pytest.approx(0.05 / 6)}
    _validate(doc, _schema())


def test_an_undecided_last_look_says_how_many_runs_would_rule_it_out():
    from perfgate import power

    c = contract()
    # At the last look the reason says what this noise costs: the runs a side that would rule
    # out the threshold if nothing changed (power.runs_to_rule_out, at the contract's alpha).
    same = decide(Samples({"wall_time": BASE}), Samples({"wall_time": list(BASE)}), c,
                  mode="no-regression")
    need = power.runs_to_rule_out(BASE, BASE, 20, 0.05)
    assert need > 5
    assert f"ruling out 20% takes about {need} runs a side" in same.reasons[0]
    # Not at a look that will be followed by more runs: the gate just measures on.
    early = decide(Samples({"wall_time": BASE}), Samples({"wall_time": list(BASE)}), c,
                   mode="no-regression", look=Look(1, 6, 5, 0.05 / 6, 2.67))
    assert early.verdict == "inconclusive" and "takes about" not in early.reasons[0]
    # Noisier runs need more of them; a tighter margin too (quadratically).
    wide = [x * x for x in BASE]
    assert power.runs_to_rule_out(wide, wide, 20, 0.05) > need
    assert power.runs_to_rule_out(BASE, BASE, 10, 0.05) >= 3 * need
    assert power.runs_to_rule_out([1.0] * 5, [1.0] * 5, 20, 0.05) is None   # no spread


def test_a_gain_not_yet_significant_at_the_last_look_says_the_runs_it_needs():
    from perfgate import power

    b, c = [1.0, 1.3, 0.8, 1.2, 0.9, 1.1], [0.7, 1.0, 0.6, 0.95, 0.8, 1.1]
    five = contract(threshold={"type": "pct", "pct_min": 5})
    v = decide(Samples({"wall_time": b}), Samples({"wall_time": c}), five)
    assert v.verdict == "inconclusive" and v.reasons[0].startswith("not significant")
    need = power.runs_to_rule_out(b, c, v.primary.change_pct, 0.05)
    assert need > 6
    assert (f"telling a {v.primary.change_pct:.1f}% gain from none takes about {need} runs a "
            "side (if it is real") in v.reasons[0]
    # Before the last look the gate measures on, and says nothing of it.
    early = decide(Samples({"wall_time": b}), Samples({"wall_time": c}), five,
                   look=Look(1, 3, 6, 0.05 / 3, 2.4))
    assert early.verdict == "inconclusive" and "takes about" not in early.reasons[0]
