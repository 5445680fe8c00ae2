"""scoping -> approve -> baseline on a real git repository, through the real command."""
import json
import subprocess

import pytest

from tests.conftest import PY, contract_yaml, git, perfgate, snapshot


def sql(repo, query):
    r = perfgate("sql", query, "--format", "json", cwd=repo)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.slow
def test_scope_approve_baseline(repo):
    before = snapshot(repo)
    # doit runs scoping first (baseline depends on scoping.md), then stops at the hard gate.
    r = perfgate("baseline", "work", cwd=repo)
    assert r.returncode == 2
    assert r.stderr.strip() == ("Error: contract work is not approved: review "
                                ".perfgate/work/scoping.md, then run `perfgate approve work`")

    r = perfgate("scope", "work", cwd=repo)
    assert r.returncode == 0, r.stderr
    art = (repo / ".perfgate" / "work" / "scoping.md").read_text()
    assert art.startswith("---\nepoch: 2\nresult: pending\n")  # the second scoping
    for section in ("## Repo Context", "### Domain", "### Repro", "### Metrics", "### Threshold",
                    "### Significance Test", "### Profiler", "### Secrets",
                    "## Pre-flight result", "### Noise and power"):
        assert section in art
    assert "- language: python" in art.lower() or "- language:" in art
    # 3 vs 3 runs can never reach p < 0.05 one-sided: scoping must say so and name N. The
    # adaptive gate (on by default outside CI) can still add rounds, so it is not impossible.
    assert "first look can never be significant" in art and "measurement_runs >= 4" in art
    assert "adaptive: while a verdict is inconclusive, rounds of 3 more runs per side up to 30" \
        in art
    assert "### Environment" in art and "- load average (1 min) at start: " in art
    stored = sql(repo, "SELECT fingerprint->>'$.environment.cores' AS cores FROM sessions "
                       "WHERE role = 'preflight'")
    assert stored and all(int(r["cores"]) >= 1 for r in stored)
    # With a fixed N the same contract can never pass, and scoping says so.
    path = repo / "contracts" / "work.yaml"
    original = path.read_text()
    path.write_text(original + "significance: {adaptive: false}\n")
    assert perfgate("scope", "work", cwd=repo).returncode == 0
    art = (repo / ".perfgate" / "work" / "scoping.md").read_text()
    assert "IMPOSSIBLE" in art and "measurement_runs >= 4" in art
    path.write_text(original)
    assert perfgate("scope", "work", cwd=repo).returncode == 0

    r = perfgate("baseline", "work", cwd=repo)
    assert r.returncode == 2
    assert "is not approved" in r.stderr and "perfgate approve work" in r.stderr
    assert sql(repo, "SELECT count(*) AS n FROM sessions WHERE role = 'baseline'") == [{"n": 0}]

    r = perfgate("approve", "work", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "result: approved" in (repo / ".perfgate" / "work" / "scoping.md").read_text()

    r = perfgate("baseline", "work", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "| wall_time |" in r.stdout and "| peak_rss |" in r.stdout
    rows = sql(repo, "SELECT s.id, s.status, s.commit_sha, count(*) AS n FROM sessions s "
                     "JOIN runs r ON r.session_id = s.id WHERE s.role = 'baseline' "
                     "GROUP BY ALL")
    assert len(rows) == 1 and rows[0]["status"] == "complete" and rows[0]["n"] == 3
    assert rows[0]["commit_sha"] == git(repo, "rev-parse", "HEAD")
    samples = sql(repo, f"SELECT metric, count(*) AS n FROM samples WHERE session_id = "
                        f"{rows[0]['id']} GROUP BY metric ORDER BY metric")
    assert {s["metric"]: s["n"] for s in samples} == {"cpu_time": 3, "peak_rss": 3, "wall_time": 3}

    # Nothing changed: doit says up to date and nothing is measured again.
    r = perfgate("baseline", "work", cwd=repo)
    assert r.returncode == 0 and "up to date" in r.stderr
    assert len(sql(repo, "SELECT id FROM sessions WHERE role = 'baseline'")) == 1
    r = perfgate("baseline", "work", "--force", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert len(sql(repo, "SELECT id FROM sessions WHERE role = 'baseline'")) == 2

    assert snapshot(repo) == before  # the user's checkout was never touched

    r = perfgate("status", cwd=repo)
    assert r.returncode == 0 and "work" in r.stdout and "baselined" in r.stdout


@pytest.mark.slow
def test_editing_the_contract_invalidates_the_approval(repo):
    assert perfgate("scope", "work", "--yes", cwd=repo).returncode == 0
    (repo / "contracts" / "work.yaml").write_text(contract_yaml(runs=4))
    r = perfgate("baseline", "work", cwd=repo)
    # doit re-runs scoping first (its file_dep changed), which leaves it pending again.
    assert r.returncode == 2
    assert "is not approved" in r.stderr or "changed since it was scoped" in r.stderr
    r = perfgate("approve", "work", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert perfgate("baseline", "work", cwd=repo).returncode == 0


def test_approve_refuses_after_an_edit_without_rescoping(repo):
    assert perfgate("scope", "work", cwd=repo).returncode == 0
    (repo / "contracts" / "work.yaml").write_text(contract_yaml(runs=5))
    r = perfgate("approve", "work", cwd=repo)
    assert r.returncode == 2
    assert r.stderr.strip() == ("Error: contracts/work.yaml changed since it was scoped; the "
                                "approval no longer holds: run `perfgate scope work` again")


def test_failing_preflight_cannot_be_approved(repo):
    (repo / "work.py").write_text("import sys\nprint('boom', file=sys.stderr)\nsys.exit(3)\n")
    git(repo, "commit", "-qam", "break it")
    r = perfgate("scope", "work", cwd=repo)
    # The report is printed, and the failed pre-flight is an error (exit 2), not a success.
    assert r.returncode == 2 and "the pre-flight of work failed" in r.stderr
    assert r.stderr.count("\n") == 1 and "exit 3" in r.stdout
    art = (repo / ".perfgate" / "work" / "scoping.md").read_text()
    assert "preflight: failed" in art and "exit 3" in art
    r = perfgate("approve", "work", cwd=repo)
    assert r.returncode == 2 and "the pre-flight failed" in r.stderr


def test_nondeterministic_output_is_named(repo):
    (repo / "work.py").write_text("import time\nprint(time.time_ns())\n")
    git(repo, "commit", "-qam", "clock")
    assert perfgate("scope", "work", cwd=repo).returncode == 0
    art = (repo / ".perfgate" / "work" / "scoping.md").read_text()
    assert "stdout differs between runs" in art


def test_missing_custom_metric_fails_preflight(repo):
    (repo / "contracts" / "work.yaml").write_text(contract_yaml().replace(
        "watchdogs:\n", "watchdogs:\n    - {name: p95_ms, max_regression_pct: 10}\n"))
    assert perfgate("scope", "work", cwd=repo).returncode == 2
    art = (repo / ".perfgate" / "work" / "scoping.md").read_text()
    assert "preflight: failed" in art and "p95_ms" in art


@pytest.mark.slow
def test_doit_list_and_doit_baseline(repo):
    (repo / "dodo.py").write_text("from perfgate.tasks import *  # noqa\n")
    r = subprocess.run([PY, "-m", "doit", "list"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.startswith("baseline") and "Measure" in line for line in lines)
    assert any(line.startswith("scoping") and "pre-flight" in line for line in lines)
    assert perfgate("scope", "work", "--yes", cwd=repo).returncode == 0
    r = subprocess.run([PY, "-m", "doit", "baseline"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (repo / ".perfgate" / "work" / "baseline.md").exists()
