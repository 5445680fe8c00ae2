"""CI use: no-regression mode, the Markdown summary, and docs/ci.md's commands for real."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from perfgate import report
from perfgate.contract import from_mapping
from perfgate.gate import Samples, decide
from tests.conftest import PY, contract_yaml, git, perfgate

DOCS = Path(__file__).parent.parent / "docs" / "ci.md"
LOOP = "total = 0\nfor i in range({n}):\n    total += i * i % 7\nprint('ok')\n"


def make_origin(tmp_path):
    """A bare origin with main, and a clone with a pull-request commit on top."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    (seed / "work.py").write_text(LOOP.format(n=400_000))
    (seed / "contracts").mkdir()
    (seed / "contracts" / "perf.yaml").write_text(
        contract_yaml(name="perf", runs=5, warmup=1))
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "main")
    git(seed, "remote", "add", "origin", str(origin))
    git(seed, "push", "-q", "origin", "main")
    pr = tmp_path / "pr"
    subprocess.run(["git", "clone", "-q", str(origin), str(pr)], check=True)
    return pr


@pytest.mark.slow
def test_no_regression_passes_unchanged_and_fails_2x_slower(tmp_path):
    pr = make_origin(tmp_path)
    # CPU time, as docs/ci.md advises for shared runners: this test runs beside others (xdist
    # on 2 cores), and the wall time of a no-op then moved by 14% with a CI of [0.84, 1.39]
    # after 30 runs a side once; nothing can rule out 20% from that, so it was inconclusive.
    contract = pr / "contracts" / "perf.yaml"
    contract.write_text(contract.read_text().replace("name: wall_time", "name: cpu_time"))
    (pr / "README").write_text("docs only\n")
    git(pr, "add", "-A")
    git(pr, "commit", "-qm", "docs")
    r = perfgate("compare", "perf", "--base", "origin/main", "--head", "HEAD",
                 "--mode", "no-regression", "--yes", "--json", cwd=pr,
                 env={**os.environ, "CI": "true"})
    assert r.returncode == 0, r.stdout + r.stderr
    # A clear no-op passes because a 20% regression is ruled out, long before the cap of 30.
    doc = json.loads(r.stdout)
    assert doc["primary"]["p_not_worse"] < doc["primary"]["alpha"]
    assert doc["sequential"]["runs_per_side"] < 30
    (pr / "work.py").write_text(LOOP.format(n=1_200_000))
    git(pr, "commit", "-qam", "slower")
    r = perfgate("compare", "perf", "--base", "origin/main", "--head", "HEAD",
                 "--mode", "no-regression", "--yes", cwd=pr)
    assert r.returncode == 1
    assert "cpu_time median got" in r.stderr and "worse" in r.stderr
    # improvement mode is unchanged: the docs-only commit is not an improvement.
    r = perfgate("compare", "perf", "--base", "origin/main", "--head", "HEAD~1", "--yes",
                 cwd=pr)
    assert r.returncode == 1


def slower_pr(tmp_path, extra: str = ""):
    """A repository whose pull-request head is a real slowdown near a 10% threshold."""
    pr = make_origin(tmp_path)
    (pr / "contracts" / "perf.yaml").write_text(contract_yaml(name="perf", runs=5, warmup=1).replace(
        "pct_min: 20", "pct_min: 10") + extra)
    git(pr, "commit", "-qam", "contract: 10%")
    return pr


@pytest.mark.slow
def test_a_true_slowdown_near_the_threshold_never_passes(tmp_path):
    # 1.3x the loop's iterations: about 20% more wall time here with the interpreter's start,
    # 2x the threshold. Today's rule passed such a change whenever 5 noisy runs showed < 10%.
    pr = slower_pr(tmp_path)
    (pr / "work.py").write_text(LOOP.format(n=520_000))
    git(pr, "commit", "-qam", "slower")
    r = perfgate("compare", "perf", "--base", "HEAD~1", "--head", "HEAD", "--mode",
                 "no-regression", "--yes", "--json", cwd=pr, env={**os.environ, "CI": "true"})
    assert r.returncode in (1, 4), r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["verdict"] in ("rejected", "inconclusive")
    if r.returncode == 4:    # then the reason says the regression was not ruled out, and how far
        assert "a regression of 10% is not ruled out" in doc["reasons"][0], doc["reasons"]


TICK = """\
import sys, time
path = sys.argv[1]
try:
    k = int(open(path).read())
except OSError:
    k = 0
open(path, "w").write(str(k + 1))
time.sleep(0.06 if k % 2 else 0.02)
"""


@pytest.mark.slow
def test_an_unclear_case_takes_the_rounds_then_says_inconclusive_exit_4(tmp_path):
    # Every other run sleeps 3x longer, on both sides alike: neither a regression nor its
    # absence can be shown. Under $CI the no-regression gate still adds rounds, to the cap.
    counter = tmp_path / "counter"
    pr = slower_pr(tmp_path, "")
    (pr / "tick.py").write_text(TICK)
    (pr / "contracts" / "perf.yaml").write_text(
        (pr / "contracts" / "perf.yaml").read_text()
        .replace(f"{PY} work.py", f"{PY} tick.py {counter}")
        .replace("measurement_runs: 5", "measurement_runs: 5\n  max_measurement_runs: 10"))
    git(pr, "add", "-A")
    git(pr, "commit", "-qm", "tick")
    (pr / "README").write_text("docs only\n")
    git(pr, "add", "-A")
    git(pr, "commit", "-qm", "docs")
    r = perfgate("compare", "perf", "--base", "HEAD~1", "--head", "HEAD", "--mode",
                 "no-regression", "--yes", "--json", cwd=pr, env={**os.environ, "CI": "true"})
    assert r.returncode == 4, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "inconclusive"
    assert doc["sequential"]["runs_per_side"] == 10 and doc["sequential"]["adaptive"]
    assert "a regression of 10% is not ruled out" in doc["reasons"][0], doc["reasons"]
    assert "n = 10 vs 10" in doc["reasons"][0]
    # ... and what this noise would cost to rule it out: more than the cap of 10.
    need = re.search(r"ruling out 10% takes about (\d+) runs a side", doc["reasons"][0])
    assert need and int(need[1]) > 10, doc["reasons"]


@pytest.mark.slow
def test_documented_commands_run_on_a_real_repository(tmp_path):
    pr = make_origin(tmp_path)
    # CPU time, as docs/ci.md advises for shared runners: with three test workers on 2 cores
    # the wall time of this 2.5% change could not rule out 20% in 30 runs (exit 4, once).
    contract = pr / "contracts" / "perf.yaml"
    contract.write_text(contract.read_text().replace("name: wall_time", "name: cpu_time"))
    (pr / "work.py").write_text(LOOP.format(n=390_000))
    git(pr, "commit", "-qam", "a small change")
    block = re.search(r"```sh\n(.*?)```", DOCS.read_text(), re.S)[1]
    commands = block.replace("\\\n", " ").splitlines()
    ran = 0
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md")}
    for line in commands:
        line = line.split("  #")[0].strip()
        if not line or line.startswith("pip install"):
            continue  # perfgate is installed already
        line = line.replace("perfgate ", f"{PY} -m perfgate ", 1)
        r = subprocess.run(line, shell=True, cwd=pr, env=env, capture_output=True, text=True)
        assert r.returncode == 0, (line, r.stderr)
        ran += 1
    assert ran == 2
    summary = (pr / "perfgate-summary.md").read_text()
    assert summary.startswith("**perfgate: accepted**")
    assert (tmp_path / "step-summary.md").read_text() == summary
    assert "#### cpu_time (primary, s, lower is better)" in (pr / "perfgate-report.md").read_text()


EXPECTED_ACCEPTED = """\
**perfgate: accepted** — demo: `main` → `HEAD` (mode: improvement)

#### wall_time (primary, s, lower is better)

| | value |
|---|---|
| base median | 1 |
| head median | 0.5 |
| change (positive is better) | +50.0% |
| 95% CI of the median ratio | [0.48, 0.52] |
| p (one-sided Mann-Whitney) | 0.00397 |
| n | 5 vs 5 |
| limit | ≥ 20% better, p < 0.05 |
| result | pass |

#### peak_rss (watchdog, MiB, lower is better)

| | value |
|---|---|
| base median | 100 |
| head median | 101 |
| change (positive is better) | -1.0% |
| limit | ≤ 10% worse |
| result | pass |

#### Reasons

- every condition held

[Plot of both samples](compare.png)
"""

EXPECTED_REJECTED_TAIL = """\
#### Reasons

- wall_time median improved 5.0% (1 s → 0.95 s), below the 20% threshold
- watchdog peak_rss regressed 30.0% (100 MiB → 130 MiB), more than its 10% limit, significant: p = 0.00397
"""


def _doc(cand, rss):
    c = from_mapping({"name": "demo", "domain": "cli_startup", "repro": {"script": "x"},
                      "metrics": {"primary": {"name": "wall_time"}, "watchdogs": [
                          {"name": "peak_rss", "max_regression_pct": 10}]}}, "t")
    base = Samples({"wall_time": [1.0, 1.02, 0.98, 1.01, 0.99], "peak_rss": [100.0] * 5})
    return decide(base, Samples({"wall_time": cand, "peak_rss": rss}), c).to_document(
        contract="demo", base={"commit": "a", "session": 1},
        candidate={"commit": "b", "tree": "t", "session": 2})


def test_markdown_summary_matches_the_reviewed_text():
    doc = _doc([0.5, 0.51, 0.49, 0.52, 0.48], [101.0] * 5)
    md = report.summary_markdown(doc, title="demo: `main` → `HEAD`", plot="compare.png")
    assert md == EXPECTED_ACCEPTED
    doc = _doc([0.95, 0.96, 0.94, 0.955, 0.945], [130.0] * 5)
    md = report.summary_markdown(doc, title="demo: `main` → `HEAD`")
    assert md.startswith("**perfgate: rejected**")
    assert md.endswith(EXPECTED_REJECTED_TAIL)
