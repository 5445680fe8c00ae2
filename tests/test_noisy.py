"""Inconclusive verdicts, adaptive rounds and calibration, end to end on real repositories."""
import json
import re

import pytest
import yaml

from tests.conftest import PY, contract_yaml, git, perfgate, snapshot
from tests.test_loop import FIXER, demo_repo, verdicts

SLOW = "total = 0\nfor i in range({n}):\n    total += i * i % 7\nprint('result ok')\n"


def two_commits(repo, runs, extra=""):
    """A base and a head with a ninth of the work; returns (base, head)."""
    (repo / "work.py").write_text(SLOW.format(n=900_000))
    (repo / "contracts" / "work.yaml").write_text(contract_yaml(runs=runs) + extra)
    git(repo, "commit", "-qam", "base")
    base = git(repo, "rev-parse", "HEAD")
    (repo / "work.py").write_text(SLOW.format(n=100_000))
    git(repo, "commit", "-qam", "much faster")
    return base, git(repo, "rev-parse", "HEAD")


def compare(repo, base, head, *args):
    r = perfgate("compare", "work", "--base", base, "--head", head, "--yes", "--json", *args,
                 cwd=repo)
    assert r.returncode in (0, 1, 4), r.stderr
    return r, json.loads(r.stdout)


@pytest.mark.slow
def test_a_fixed_n_too_small_for_the_test_is_inconclusive_exit_4(repo):
    # 3 vs 3 runs: the smallest one-sided Mann-Whitney p is 1/20 = alpha, so even a
    # big speed-up cannot be significant. That is not a rejection of the change: undecided.
    base, head = two_commits(repo, runs=3)
    r, doc = compare(repo, base, head, "--no-adaptive")
    assert r.returncode == 4, r.stderr
    assert doc["verdict"] == "inconclusive"
    assert doc["primary"]["change_pct"] > 20 and doc["primary"]["passed"] is False
    assert any("not significant" in x or "cannot be" in x for x in doc["reasons"]), doc
    assert doc["sequential"]["adaptive"] is False and doc["sequential"]["rounds"] == 1
    assert doc["sequential"]["runs_per_side"] == 3
    r = perfgate("sql", "SELECT verdict, looks, runs_per_side FROM decisions", "--format",
                 "json", cwd=repo)
    assert json.loads(r.stdout) == [{"verdict": "inconclusive", "looks": 1, "runs_per_side": 3}]


@pytest.mark.slow
def test_adaptive_rounds_buy_the_runs_and_accept(repo):
    base, head = two_commits(repo, runs=3)
    c = yaml.safe_load((repo / "contracts" / "work.yaml").read_text())
    c["repro"]["max_measurement_runs"] = 12
    (repo / "contracts" / "work.yaml").write_text(yaml.safe_dump(c))
    r, doc = compare(repo, base, head, "--adaptive")
    assert r.returncode == 0, doc
    seq = doc["sequential"]
    assert doc["verdict"] == "accepted" and seq["adaptive"] is True
    # The first look (3 vs 3) can never be significant, so its alpha went to the later looks.
    assert seq["rounds"] >= 2 and seq["runs_per_side"] in (6, 9, 12)
    assert doc["primary"]["p_value"] < seq["look_alpha"] <= 0.05
    # Every run bought is in the store, in the same two sessions, none of them lost.
    for side in ("base", "candidate"):
        r = perfgate("sql", "SELECT count(*) AS n FROM runs WHERE NOT warmup AND session_id = "
                     f"{doc[side]['session']}", "--format", "json", cwd=repo)
        assert json.loads(r.stdout) == [{"n": seq["runs_per_side"]}]


@pytest.mark.slow
def test_gate_exit_4_archives_the_undecided_diff(repo):
    (repo / "work.py").write_text(SLOW.format(n=900_000))
    (repo / "contracts" / "work.yaml").write_text(
        contract_yaml(runs=3) + "significance: {adaptive: false}\n")
    git(repo, "commit", "-qam", "base")
    assert perfgate("scope", "work", "--yes", cwd=repo).returncode == 0
    (repo / "work.py").write_text(SLOW.format(n=100_000))
    before = snapshot(repo)
    r = perfgate("gate", "work", "--from-checkout", cwd=repo)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "verdict: inconclusive" in r.stdout
    assert snapshot(repo) == before
    patches = list((repo / ".perfgate" / "work" / "rejected").glob("*.patch"))
    assert len(patches) == 1
    gating = (repo / ".perfgate" / "work" / "gating.md").read_text()
    assert "result: inconclusive" in gating


@pytest.mark.slow
def test_the_loop_moves_on_from_an_inconclusive_hotspot(tmp_path):
    root = demo_repo(tmp_path, max_iterations=1)
    path = root / "contracts" / "demo.yaml"
    c = yaml.safe_load(path.read_text())
    c["repro"]["measurement_runs"] = 3
    c["significance"]["adaptive"] = False
    path.write_text(yaml.safe_dump(c))
    git(root, "commit", "-qam", "N=3")
    assert perfgate("scope", "demo", "--yes", cwd=root).returncode == 0
    r = perfgate("run", "demo", "--fixer", FIXER, cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert verdicts(root) == [("gap_counts", "inconclusive")]
    assert "inconclusive" in r.stdout
    assert len(list((root / ".perfgate" / "demo" / "rejected").glob("*.patch"))) == 1
    assert git(root, "rev-parse", "perfgate/demo") == git(root, "rev-parse", "main")


@pytest.mark.slow
def test_calibrate_measures_false_accepts_noise_and_power(repo):
    # A shell-only repro keeps valgrind cheap; instruction counts make every figure exact.
    loop = "i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done"
    text = contract_yaml(runs=4).replace(f"script: {PY} work.py", f"script: '{loop}'")
    text = text.replace("name: wall_time, unit: s", "name: instructions")
    (repo / "contracts" / "work.yaml").write_text(text + "significance: {adaptive: false}\n")
    r = perfgate("calibrate", "work", "--gates", "1", "--effect", "40", "--yes", cwd=repo)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert out.startswith("A/A false accepts: 0/1 (0.0%, alpha 0.05; a fixed N, 4 runs per "
                          "side on average)"), out
    m = re.search(r"instructions CV: ([0-9.e+-]+)% \(median over 2 sessions\)", out)
    assert m and float(m.group(1)) < 0.01, out     # counts, not seconds: no noise to speak of
    assert "synthetic 40% improvement detected: 1/1 (100% power)" in out
    md = (repo / ".perfgate" / "work" / "calibration.md").read_text()
    assert "## Environment" in md and "load average" in md
    assert md.count("| accepted |") == 1 and md.count("| rejected |") == 1
    r = perfgate("sql", "SELECT gates, false_accepts, detected, effect_pct FROM calibrations",
                 "--format", "json", cwd=repo)
    assert json.loads(r.stdout) == [{"gates": 1, "false_accepts": 0, "detected": 1,
                                     "effect_pct": 40.0}]
    r = perfgate("status", cwd=repo)
    assert r.returncode == 0 and re.search(r"false accepts 0/1, CV 0.0%, MDE [0-9.e+-]+%, N 4",
                                           r.stdout), r.stdout


@pytest.mark.slow
def test_calibrate_on_wall_time(repo):
    (repo / "contracts" / "work.yaml").write_text(contract_yaml(runs=4))
    r = perfgate("calibrate", "work", "--gates", "2", "--no-adaptive", "--yes", cwd=repo)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"wall_time CV: ([\d.]+)%", r.stdout)
    assert m and 0 < float(m.group(1)) < 50, r.stdout
    assert "smallest change detectable with N=4 (80% power): " in r.stdout
    assert "recommended measurement_runs for the threshold: " in r.stdout
