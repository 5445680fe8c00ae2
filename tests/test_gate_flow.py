"""The gate end to end on real git repositories: compare, gate, accept, reject, nothing lost."""
import json
import subprocess

import pytest

from tests.conftest import PY, contract_yaml, git, perfgate, snapshot

SLOW = "total = 0\nfor i in range({n}):\n    total += i * i % 7\nprint('result', {answer!r})\n"
VERIFY = "verify: {py} check.py\n"


def program(n, answer="ok", extra=""):
    return extra + SLOW.format(n=n, answer=answer)


@pytest.fixture
def gated(repo):
    """A repo whose contract has N=5 (significance reachable) and a verify command. CPU time:
    a no-op must be ruled out against 20% beside the other tests, where a 50 ms program's wall
    time spreads by 40% (tests/test_stacks_e2e.py's contract says what was measured)."""
    (repo / "work.py").write_text(program(1_000_000))
    (repo / "check.py").write_text(
        "import subprocess, sys\n"
        "out = subprocess.run([sys.executable, 'work.py'], capture_output=True, text=True)\n"
        "sys.exit(0 if out.stdout.strip() == 'result ok' else 1)\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    (repo / "contracts" / "work.yaml").write_text(
        contract_yaml(runs=5, warmup=1).replace("name: wall_time", "name: cpu_time")
        + VERIFY.format(py=PY))
    return repo


def commit(repo, text, msg):
    (repo / "work.py").write_text(text)
    git(repo, "commit", "-qam", msg)
    return git(repo, "rev-parse", "HEAD")


def compare(repo, base, head, *extra):
    r = perfgate("compare", "work", "--base", base, "--head", head, "--yes", "--json", *extra,
                 cwd=repo)
    assert r.returncode in (0, 1), r.stderr
    return r, json.loads(r.stdout)


@pytest.mark.slow
def test_compare_faster_slower_noop_and_memory(gated):
    base = git(gated, "rev-parse", "HEAD")
    fast = commit(gated, program(300_000), "3x faster")
    r, doc = compare(gated, base, fast)
    assert r.returncode == 0 and doc["verdict"] == "accepted", doc["reasons"]
    assert doc["primary"]["change_pct"] > 40 and doc["primary"]["p_value"] < 0.05
    assert doc["reasons"] == [] and doc["base"]["commit"] == base
    assert doc["candidate"]["commit"] == fast

    # Slower: rejected, and the reason says it got worse.
    r, doc = compare(gated, fast, base)
    assert r.returncode == 1 and doc["verdict"] == "rejected"
    assert any("cpu_time median got" in x and "worse" in x for x in doc["reasons"])

    # A no-op commit (a comment) does not clear the threshold.
    noop = commit(gated, "# just a comment\n" + program(300_000), "comment")
    r, doc = compare(gated, fast, noop)
    assert r.returncode == 1 and doc["verdict"] == "rejected"

    # Faster, but allocates far more memory: the watchdog names itself.
    hog = commit(gated, program(20_000, extra="blob = bytearray(40 * 1024 * 1024)\n"), "hog")
    r, doc = compare(gated, base, hog)
    assert r.returncode == 1
    assert doc["primary"]["passed"] is True, doc
    assert [w["name"] for w in doc["watchdogs"] if not w["passed"]] == ["peak_rss"]
    assert any(x.startswith("watchdog peak_rss regressed") for x in doc["reasons"])
    git(gated, "checkout", "-q", "main")
    assert snapshot(gated)["work.py"] == (gated / "work.py").read_bytes()


@pytest.mark.slow
def test_p_value_is_what_scipy_computes_from_the_store(gated):
    from scipy import stats

    from perfgate.store import Store

    base = git(gated, "rev-parse", "HEAD")
    fast = commit(gated, program(400_000), "2x faster")
    _, doc = compare(gated, base, fast, "--no-adaptive")
    store = Store(gated / ".perfgate" / "perfgate.duckdb")
    b = store.samples(doc["base"]["session"], "cpu_time")
    c = store.samples(doc["candidate"]["session"], "cpu_time")
    assert len(b) == len(c) == 5
    # CPU times are microseconds, so two runs can tie; with ties the exact test is the
    # permutation one (252 arrangements of 5 vs 5: all enumerated, no seed involved).
    method = "exact" if len(set(b) | set(c)) == 10 else stats.PermutationMethod()
    expected = stats.mannwhitneyu(c, b, alternative="less", method=method).pvalue
    assert doc["primary"]["p_value"] == pytest.approx(expected, rel=1e-12)
    _, rows = store.query("SELECT median(value) FROM v_samples WHERE session_id = ? "
                             "AND metric = 'cpu_time'", [doc["base"]["session"]])
    assert rows[0][0] == pytest.approx(doc["primary"]["baseline_median"])
    _, rows = store.query("SELECT verdict, p_value FROM decisions ORDER BY id DESC LIMIT 1")
    assert rows[0][0] == "accepted" and rows[0][1] == pytest.approx(expected)


@pytest.mark.slow
def test_gate_accepts_then_rejects_and_archives(gated):
    assert perfgate("scope", "work", "--yes", cwd=gated).returncode == 0
    # Your own edit, gated from the checkout: the checkout itself stays as it is.
    (gated / "work.py").write_text(program(300_000))
    before = snapshot(gated)
    r = perfgate("gate", "work", "--from-checkout", cwd=gated)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verdict: accepted" in r.stdout
    assert snapshot(gated) == before
    msg = git(gated, "log", "-1", "--format=%B", "perfgate/work")
    assert "cpu_time:" in msg and "p = " in msg and "n = 5 vs 5" in msg

    # Unchanged candidate: nothing runs again.
    r = perfgate("gate", "work", cwd=gated)
    assert r.returncode == 0 and "unchanged since the last gate" in r.stderr

    # A change in the work tree that is not faster: rejected, archived, reset.
    work = gated / ".perfgate" / "work" / "work"
    accepted = git(work, "rev-parse", "HEAD")
    (work / "work.py").write_text("# slower\n" + program(600_000))
    (work / "notes.txt").write_text("a new file the fixer wrote\n")
    r = perfgate("gate", "work", "--json", cwd=gated)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "rejected"
    assert git(work, "status", "--porcelain") == ""
    assert git(work, "rev-parse", "HEAD") == accepted
    patches = list((gated / ".perfgate" / "work" / "rejected").glob("*.patch"))
    assert len(patches) == 1
    subprocess.run(["git", "apply", "--check", str(patches[0])], cwd=work, check=True)
    ref = git(gated, "for-each-ref", "--format=%(refname)", "refs/perfgate/rejected/work")
    assert ref == "refs/perfgate/rejected/work/2"
    assert "a new file the fixer wrote" in git(gated, "show", f"{ref}:notes.txt")
    gating = (gated / ".perfgate" / "work" / "gating.md").read_text()
    assert "result: rejected" in gating and "![samples](gating.png)" in gating
    assert (gated / ".perfgate" / "work" / "gating.png").stat().st_size > 1000
    assert snapshot(gated) == before


@pytest.mark.slow
def test_broken_verify_is_rejected_without_measuring(gated):
    assert perfgate("scope", "work", "--yes", cwd=gated).returncode == 0
    (gated / "work.py").write_text(program(10_000, answer="wrong"))
    r = perfgate("gate", "work", "--from-checkout", "--json", cwd=gated)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["reasons"][0].startswith("verify failed (exit 1)")
    assert doc["candidate"]["session"] is None
    r = perfgate("sql", "SELECT count(*) AS n FROM sessions WHERE role = 'candidate'",
                 "--format", "json", cwd=gated)
    assert json.loads(r.stdout) == [{"n": 0}]


@pytest.mark.slow
def test_no_interleave_refuses_a_foreign_fingerprint(gated):
    from perfgate.store import Store

    assert perfgate("scope", "work", "--yes", cwd=gated).returncode == 0
    assert perfgate("baseline", "work", cwd=gated).returncode == 0
    store = Store(gated / ".perfgate" / "perfgate.duckdb")
    with store._tx() as con:  # pretend the baseline came from another machine
        con.execute("UPDATE sessions SET fingerprint = json_object('host', 'elsewhere') "
                    "WHERE role = 'baseline'")
    (gated / "work.py").write_text(program(300_000))
    r = perfgate("gate", "work", "--from-checkout", "--no-interleave", cwd=gated)
    assert r.returncode == 2
    assert "was measured with cores = None" in r.stderr or "measured with" in r.stderr
    assert "--allow-fingerprint-mismatch" in r.stderr


def test_a_head_whose_runs_fail_is_rejected_with_the_reason(gated):
    """verify passes, but the measured repro crashes: rejected, never decided on partial data."""
    base = git(gated, "rev-parse", "HEAD")
    (gated / "check.py").write_text("import os, sys\nsys.exit(0)\n")
    crash = commit(gated, "import sys\nprint('boom', file=sys.stderr)\nsys.exit(3)\n", "crash")
    r, doc = compare(gated, base, crash)
    assert r.returncode == 1 and doc["verdict"] == "rejected"
    assert doc["reasons"] == ["candidate warmup run 1: exit 3: boom"]
    assert doc["primary"] is None
    r = perfgate("sql", "SELECT role, status FROM sessions WHERE comparison_id IS NULL "
                 "AND role IN ('baseline', 'candidate') ORDER BY id", "--format", "json",
                 cwd=gated)
    assert {row["status"] for row in json.loads(r.stdout)} == {"failed"}
