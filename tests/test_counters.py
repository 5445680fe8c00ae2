"""The instructions metric: real counts under valgrind (or perf), end to end through a gate."""
import json

import pytest

from perfgate import counters, harness
from perfgate.contract import Metric
from tests.conftest import PY, contract_yaml, git, perfgate

LOOP = "i=0; while [ $i -lt {n} ]; do i=$((i+1)); done"


def count(command, cwd):
    n, problem = harness.count_instructions(command, cwd=cwd, timeout_s=30)
    assert n is not None, problem
    return n


def test_this_machine_has_a_counter():
    # CI installs valgrind (.ci/run); without a counter the rest of this file means nothing.
    assert counters.tool() is not None, counters.INSTALL_HINT


def test_counts_are_repeatable_and_proportional_to_work(tmp_path):
    zero, a, b = (count(LOOP.format(n=n), tmp_path) for n in (0, 3000, 6000))
    again = count(LOOP.format(n=3000), tmp_path)
    assert abs(again - a) / a < 0.005          # the whole point: not moved by the neighbours
    assert (b - zero) / (a - zero) == pytest.approx(2.0, rel=0.05)


def test_children_are_counted(tmp_path):
    direct = count(LOOP.format(n=5000), tmp_path)
    nested = count(f"sh -c '{LOOP.format(n=5000)}' && true", tmp_path)
    assert nested >= direct * 0.95


@pytest.mark.slow
def test_the_timed_pass_stays_honest(tmp_path):
    (tmp_path / "w.py").write_text("print(sum(i * i for i in range(200000)))\n")
    wanted = [Metric(name="instructions")]
    plain = min(harness.run_once(f"{PY} w.py", cwd=tmp_path).wall_time for _ in range(3))
    counted = [harness.run_once(f"{PY} w.py", cwd=tmp_path, metrics=wanted) for _ in range(3)]
    assert all(r.ok for r in counted), counted[0].problem()
    assert all(r.metrics["instructions"] > 1e7 for r in counted)
    # Python's per-process hash salt would move the count; the counted pass pins it.
    counts = [r.metrics["instructions"] for r in counted]
    assert (max(counts) - min(counts)) / min(counts) < 1e-4
    # The slowdown of the counter (10x and more) must not leak into the timed figures.
    assert min(r.wall_time for r in counted) < plain * 3


def test_failures_name_the_problem(tmp_path, monkeypatch):
    wanted = [Metric(name="instructions")]
    failed = harness.run_once("exit 3", cwd=tmp_path, metrics=wanted)
    assert failed.problem() == "exit 3" and "instructions" not in failed.metrics
    monkeypatch.setattr(counters, "tool", lambda: None)
    r = harness.run_once("true", cwd=tmp_path, metrics=wanted)
    assert r.problem().startswith("metric instructions: no instruction counter on this machine;")
    assert "apt-get install -y valgrind" in r.problem()


def test_perf_output_is_parsed(tmp_path):
    perf = counters.Counter("perf", 1.1)
    (tmp_path / "perf.csv").write_text("# started on x\n\n123456789,,instructions:u,1000,100.00,,\n")
    assert perf.read(tmp_path) == 123456789
    (tmp_path / "perf.csv").write_text("<not supported>,,instructions:u,0,100.00,,\n")
    with pytest.raises(counters.CounterError, match="not supported"):
        perf.read(tmp_path)
    assert perf.wrap(["x"], tmp_path)[:5] == ["perf", "stat", "-x", ",", "-e"]


@pytest.mark.slow
def test_instructions_as_the_primary_metric_end_to_end(repo):
    # A shell repro: valgrind costs ~30x on Python's start-up, little on a shell loop.
    (repo / "work.sh").write_text(LOOP.format(n=6000) + "\n")
    git(repo, "add", "work.sh")
    git(repo, "commit", "-qm", "shell repro")
    (repo / "contracts" / "work.yaml").write_text(
        contract_yaml(runs=4, warmup=1).replace(f"script: {PY} work.py", "script: sh work.sh")
        .replace("name: wall_time, unit: s", "name: instructions")
        .replace("pct_min: 20", "pct_min: 5") + "significance: {adaptive: false}\n")
    r = perfgate("scope", "work", cwd=repo)
    assert r.returncode == 0, r.stderr
    art = (repo / ".perfgate" / "work" / "scoping.md").read_text()
    if counters.tool().name == "valgrind":
        assert "instructions are counted by valgrind in a second pass of every run" in art
    assert "preflight: passed" in art
    base = git(repo, "rev-parse", "HEAD")
    (repo / "work.sh").write_text(LOOP.format(n=4000) + "\n")
    git(repo, "commit", "-qam", "a third less work")
    head = git(repo, "rev-parse", "HEAD")
    r = perfgate("compare", "work", "--base", base, "--head", head, "--yes", "--json", cwd=repo)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "accepted" and doc["primary"]["name"] == "instructions"
    # Same program, same input: the counts barely move (wall time moves 10-20% here).
    r = perfgate("sql", "SELECT stddev_samp(value) / avg(value) AS cv FROM v_samples "
                 f"WHERE metric = 'instructions' AND session_id = {doc['base']['session']}",
                 "--format", "json", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["cv"] < 0.002
    # Warmup runs are timed but not counted: valgrind's ~30x is paid for measured runs only.
    r = perfgate("sql", "SELECT r.warmup, count(m.value) AS counted FROM runs r LEFT JOIN "
                 "samples m ON m.run_id = r.id AND m.metric = 'instructions' WHERE "
                 f"r.session_id = {doc['base']['session']} GROUP BY ALL ORDER BY 1",
                 "--format", "json", cwd=repo)
    assert json.loads(r.stdout) == [{"warmup": False, "counted": 4},
                                    {"warmup": True, "counted": 0}]
    # A third of the loop, a little less of the total: the shell's start-up counts too.
    assert 25 < doc["primary"]["change_pct"] < 33.4   # positive: better


def test_measure_counts_on_request(tmp_path):
    r = perfgate("measure", "-n", "2", "-w", "0", "--instructions", "--json", "--",
                 LOOP.format(n=500), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    counts = [run["metrics"]["instructions"] for run in json.loads(r.stdout)["runs"]]
    assert len(counts) == 2 and counts[0] == pytest.approx(counts[1], rel=0.005) and counts[0] > 1e5


def test_scoping_without_a_counter_fails_with_an_install_hint(monkeypatch):
    from perfgate.stages import scoping

    pre = scoping.Preflight(runs=3, passed=True, exit_codes=[0, 0, 0], observed={})
    monkeypatch.setattr(counters, "tool", lambda: None)
    assert scoping._counter_notes(pre, [0.1, 0.1, 0.1]) == []
    assert pre.passed is False
    assert pre.problems == ["metric instructions: no instruction counter on this machine; "
                            + counters.INSTALL_HINT]
    monkeypatch.setattr(counters, "tool", lambda: counters.Counter("perf", 1.1))
    assert scoping._counter_notes(pre, [0.1]) == []   # perf costs nothing worth a warning
