"""significance.test: wilcoxon, the signed-rank test on runs paired by round. Interleaved runs
sit next to each other in time, so a drift of the machine both sides share cancels in their
ratio; Mann-Whitney, which pools each side, sees it as noise."""
import json
import math
import random
import subprocess

import pytest
from scipy import stats as sp

from perfgate import power, sequential, stats
from perfgate.contract import from_mapping
from perfgate.gate import Samples, decide
from tests.conftest import PY, contract_yaml, git, perfgate


def contract(test: str, pct: float = 10, runs: int = 10):
    return from_mapping({
        "version": 1, "name": "w", "domain": "cli_startup",
        "repro": {"script": "true", "measurement_runs": runs},
        "metrics": {"primary": {"name": "wall_time", "unit": "s", "lower_is_better": True}},
        "threshold": {"type": "pct", "pct_min": pct},
        "significance": {"test": test, "alpha": 0.05}}, source="t.yaml")


def drifting(ratio: float, n: int = 20, seed: int = 1) -> tuple[list[float], list[float]]:
    """Each round's pair shares the machine's state, 1x or 3x slow, with 2% noise of its own."""
    rng = random.Random(seed)
    drift = [rng.choice([1.0, 3.0]) for _ in range(n)]
    base = [0.05 * d * rng.gauss(1, 0.02) for d in drift]
    cand = [0.05 * ratio * d * rng.gauss(1, 0.02) for d in drift]
    return base, cand


def test_the_test_is_scipys_signed_rank_on_log_ratios():
    base, cand = drifting(0.9, n=12)
    logs = [math.log(c / b) for b, c in zip(base, cand)]
    assert stats.pair_logs(base, cand) == pytest.approx(logs)
    got = stats.wilcoxon(base, cand, lower_is_better=True)
    assert got.p_value == pytest.approx(sp.wilcoxon(logs, alternative="less").pvalue)
    assert got.method == "exact"
    # The other direction, and the floor: 5 pairs all one way give 1/32, never less.
    assert stats.wilcoxon(base, cand, lower_is_better=False).p_value > 0.99
    assert stats.wilcoxon(base[:5], cand[:5], lower_is_better=True).p_value == 1 / 32
    assert power.min_p("wilcoxon", 5, 7) == 1 / 32 and power.min_n("wilcoxon", 0.01) == 7
    # Runs without a partner (a side with more) are left out, not paired with nothing.
    assert len(stats.pair_logs(base, cand[:7])) == 7


def test_the_paired_ratio_and_its_interval_ignore_the_shared_drift():
    base, cand = drifting(0.8)
    lo, hi = stats.paired_ratio_ci(base, cand)
    assert 0.77 < lo <= stats.paired_ratio(base, cand) <= hi < 0.83
    ulo, uhi = stats.bootstrap_median_ratio_ci(base, cand)
    assert uhi - ulo > 5 * (hi - lo)    # what the pooled medians make of the same runs


# CPU times (s) of two commits of bench/bisect_bench.py's two-step history, the second doing 1/1.25
# of the first's work (a true ratio of 0.80 with the interpreter's start-up), measured in one
# bisection step, interleaved, on this shared 2-core machine (2026-12-06, load 1.5): the host
# moved both by up to 2x from round to round.
RECORDED = (
    [0.07346, 0.07807, 0.11226, 0.08577, 0.11141, 0.15319, 0.09552, 0.11922, 0.14291, 0.08522,
     0.11426, 0.08827, 0.08388, 0.12001, 0.11834, 0.07791, 0.08128, 0.12376, 0.15301, 0.07916],
    [0.06063, 0.06058, 0.09484, 0.06427, 0.09214, 0.10801, 0.11237, 0.08761, 0.11728, 0.06352,
     0.08942, 0.08412, 0.08614, 0.09319, 0.09368, 0.06247, 0.06415, 0.09633, 0.11488, 0.0629])


def test_a_real_gain_under_drift_is_accepted_paired_and_not_pooled():
    base, cand = (Samples({"wall_time": v}) for v in RECORDED)
    pooled = decide(base, cand, contract("mann_whitney", pct=15))
    paired = decide(base, cand, contract("wilcoxon", pct=15))
    # Pooled, the medians say 14.4% and the interval of their ratio spans 0.57 to 1.09.
    assert pooled.verdict == "inconclusive" and "too wide to tell" in pooled.reasons[0]
    assert paired.verdict == "accepted", paired.reasons
    assert paired.primary.test == "wilcoxon"
    assert 15 < paired.primary.change_pct < 25
    assert 0.75 < paired.primary.ci_low < paired.primary.ci_high < 0.85


def test_no_regression_paired_passes_the_same_code_and_fails_a_slowdown():
    same = decide(*map(lambda v: Samples({"wall_time": v}), drifting(1.0)),
                  contract("wilcoxon"), mode="no-regression")
    assert same.verdict == "accepted", same.reasons
    assert same.primary.p_not_worse < 0.05
    slower = decide(*map(lambda v: Samples({"wall_time": v}), drifting(1.25)),
                    contract("wilcoxon"), mode="no-regression")
    assert slower.verdict == "rejected" and "worse" in slower.reasons[0]


def test_a_first_look_the_signed_rank_test_cannot_use_gets_no_alpha():
    # 5 pairs cannot get under alpha/4: that look's share goes to the three that can.
    looks = sequential.plan(5, 20, 0.05, adaptive=True, test="wilcoxon")
    assert looks[0].alpha == 0 and sum(look.alpha for look in looks) == pytest.approx(0.05)
    assert sequential.plan(5, 20, 0.05, adaptive=True)[0].alpha > 0   # Mann-Whitney's can


def test_too_few_pairs_is_undecided_and_says_how_many_it_takes():
    base, cand = drifting(0.5, n=4)
    v = decide(Samples({"wall_time": base}), Samples({"wall_time": cand}), contract("wilcoxon"))
    assert v.verdict == "inconclusive"
    assert "Wilcoxon signed-rank" in v.reasons[0] and "use at least 5 runs" in v.reasons[0]


# A program whose speed follows a state both sides share: 3x slower for two rounds in every
# four, like a neighbour's job on a shared runner. The head sleeps 40% less (30-38% of the
# whole run with the interpreter's start, which grows past 100 ms on a busy host).
# The state is a count of runs, not the clock. A clock flipping every 2 s fell between the two
# runs of about one round in four on a busy host, and three such rounds of twelve left the
# signed-rank test at p = 0.117 (CI); a drift slower than one round is what pairing is for.
DRIFT = """\
import pathlib, sys, time
scale, counter = float(sys.argv[1]), pathlib.Path(sys.argv[2])
k = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(k + 1))
slow = (k // 4) % 2         # rounds are runs 2i and 2i + 1 (ABBA, warm-up runs in pairs)
time.sleep(scale * (0.6 if slow else 0.2))
"""


@pytest.mark.slow
def test_a_real_gate_under_a_shared_drift(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "drift.py").write_text(DRIFT)
    (root / "scale").write_text("1.0")
    (root / "contracts").mkdir()
    (root / "contracts" / "d.yaml").write_text(
        contract_yaml(name="d", runs=12)
        .replace(f"{PY} work.py", f"sh -c '{PY} drift.py $(cat scale) {tmp_path / 'count'}'")
        .replace("pct_min: 20", "pct_min: 10")
        + "significance: {test: wilcoxon, alpha: 0.05, adaptive: false}\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    (root / "scale").write_text("0.6")
    git(root, "commit", "-qam", "less work")
    r = perfgate("compare", "d", "--base", "HEAD~1", "--head", "HEAD", "--yes", "--json",
                 cwd=root)
    doc = json.loads(r.stdout)
    assert r.returncode == 0, doc["reasons"]
    p = doc["primary"]
    assert p["test"] == "wilcoxon" and 15 < p["change_pct"] < 45
    assert p["ci_high"] < 0.9, p     # the interval of the paired ratio excludes the threshold
    assert (tmp_path / "count").read_text() == "24"     # each run once: rounds stayed aligned
    # A stored baseline was measured at another time: nothing to pair with, so it is refused.
    assert perfgate("scope", "d", "--yes", cwd=root).returncode == 0
    assert perfgate("baseline", "d", cwd=root).returncode == 0
    (root / "scale").write_text("0.5")
    r = perfgate("gate", "d", "--from-checkout", "--no-interleave", cwd=root)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "significance.test: wilcoxon pairs runs measured together" in r.stderr


def test_the_contract_names_the_choice():
    r = subprocess.run([PY, "-c", "from perfgate.contract import Significance; "
                        "print(Significance(test='wilcoxon').test)"],
                       capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "wilcoxon"
