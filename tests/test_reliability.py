"""Guarantees under faults: secrets never stored, kill -9 never corrupts, concurrent runs."""
import os
import random
import signal
import subprocess
import time

import psutil
import pytest

from perfgate.store import Store
from tests.conftest import PY, contract_yaml, git, perfgate

SECRET = "s3cr3t-Value-7f3a9"


@pytest.mark.slow
def test_secrets_never_reach_the_store_an_artifact_or_a_log(repo, tmp_path):
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"API_TOKEN={SECRET}\n")
    secrets.chmod(0o600)
    (repo / "work.py").write_text(
        "import os, sys\n"
        "token = os.environ['API_TOKEN']\n"
        "print('token is', token)\n"
        "print('token is', token, file=sys.stderr)\n"
        "total = 0\nfor i in range(200000):\n    total += i % 7\n")
    git(repo, "commit", "-qam", "reads a secret")
    (repo / "contracts" / "work.yaml").write_text(
        contract_yaml(runs=5, extra=f"secrets_file_path: {secrets}\n"
                                    f"verify: {PY} -c \"import os; print(os.environ['API_TOKEN']);"
                                    " raise SystemExit(1)\"\n"))
    assert perfgate("scope", "work", "--yes", cwd=repo).returncode == 0
    assert perfgate("baseline", "work", cwd=repo).returncode == 0
    (repo / "work.py").write_text((repo / "work.py").read_text().replace("200000", "20000"))
    r = perfgate("gate", "work", "--from-checkout", "--json", cwd=repo)
    assert r.returncode == 1  # verify fails, printing the secret on its way out
    assert SECRET not in r.stdout + r.stderr and "***" in r.stdout
    hits = [p for p in (repo / ".perfgate").rglob("*")
            if p.is_file() and "/base/" not in str(p) and "/work/" not in str(p)
            and SECRET.encode() in p.read_bytes()]
    assert hits == []
    assert SECRET.encode() not in (repo / ".perfgate" / "perfgate.duckdb").read_bytes()


def test_secrets_file_missing_is_a_one_line_error(repo, tmp_path):
    (repo / "contracts" / "work.yaml").write_text(
        contract_yaml(extra=f"secrets_file_path: {tmp_path / 'nope.env'}\n"))
    expected = (f"Error: {repo / 'contracts' / 'work.yaml'}: secrets_file_path: "
                f"{tmp_path / 'nope.env'} does not exist")
    for command in ("scope", "check"):   # `check` looks for the file too, before any run
        r = perfgate(command, "work", cwd=repo)
        assert (r.returncode, r.stderr.strip()) == (2, expected)


def test_world_readable_secrets_file_warns(repo, tmp_path):
    secrets = tmp_path / "s.env"
    secrets.write_text("A=bcdefgh\n")
    secrets.chmod(0o644)
    (repo / "contracts" / "work.yaml").write_text(
        contract_yaml(extra=f"secrets_file_path: {secrets}\n"))
    warning = (f"Warning: {repo / 'contracts' / 'work.yaml'}: secrets_file_path: {secrets} is "
               f"readable by other users; chmod 600 {secrets}")
    for command in ("check", "scope"):
        r = perfgate(command, "work", cwd=repo)
        assert r.returncode == 0, r.stderr
        assert warning in r.stderr


# One mark per test process: xdist runs two of these tests at once, and each must find (and
# expect swept) only the processes it started itself.
MARK = f"perfgate-kill9-marker-{os.getpid()}"


def _marked_contract(repo, **kw):
    """The repro carries MARK on its command line, so its processes can be found."""
    (repo / "contracts" / "work.yaml").write_text(
        contract_yaml(**kw).replace("work.py\n", f"work.py {MARK}\n"))


def _marked():
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            cmd = p.info["cmdline"] or []
            # perfgate's own command line may carry MARK inside a --fixer argument
            if any(MARK in part for part in cmd) and "perfgate" not in cmd:
                found.append(p)
        except psutil.Error:
            continue
    return found


def _kill_mid_run(repo, rng, times: int) -> int:
    """Start `perfgate baseline --force` and kill -9 it at a random instant after its repro
    started, `times` times; returns how many kills left a repro process orphaned."""
    leaked = 0
    ledger = repo / ".perfgate" / "running"
    for _ in range(times):
        before = {q.pid for q in _marked()}   # orphans of earlier kills live on meanwhile
        p = subprocess.Popen([PY, "-m", "perfgate", "baseline", "work", "--force"], cwd=repo,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        # This perfgate has a measured run going: its group is in the ledger.
        while (not any(f.name.startswith(f"{p.pid}.") for f in ledger.glob("*"))
               and time.monotonic() < deadline and p.poll() is None):
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.3))
        p.send_signal(signal.SIGKILL)
        p.wait()
        leaked += bool({q.pid for q in _marked()} - before)
    return leaked


@pytest.mark.slow
@pytest.mark.parametrize("recovery", ["baseline", "scope"])
def test_kill_9_at_random_points_never_corrupts_or_leaks(repo, recovery):
    """perfgate killed -9 mid-measurement: the store always opens, the killed sessions end up
    aborted (never complete), and the next start of any stage that opens a session (a
    baseline, or a new scoping) kills the processes the dead perfgate left behind."""
    (repo / "work.py").write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)',"
        " sys.argv[1]])\n"
        "t = time.time()\nwhile time.time() - t < 0.15: pass\nchild.kill()\n")
    git(repo, "commit", "-qam", "marker")
    _marked_contract(repo)
    assert perfgate("scope", "work", "--yes", cwd=repo).returncode == 0
    store = Store(repo / ".perfgate" / "perfgate.duckdb", busy_timeout_s=30)
    leaked = _kill_mid_run(repo, random.Random(7), 8)
    store.query("SELECT count(*) FROM sessions")  # opens, reads: not corrupted
    assert leaked > 0  # the kills did land mid-run, orphaning repro processes ...
    args = ["baseline", "work", "--force"] if recovery == "baseline" else ["scope", "work"]
    r = perfgate(*args, cwd=repo)
    assert r.returncode == 0, r.stderr
    assert _marked() == []  # ... which the next start swept
    _, rows = store.query("SELECT status, count(*) FROM sessions WHERE role = 'baseline' "
                          "GROUP BY status ORDER BY status")
    counts = dict(rows)
    assert "running" not in counts and counts.get("aborted", 0) == 8
    assert not list((repo / ".perfgate" / "running").iterdir())
    if recovery == "baseline":
        # Nothing that was aborted has a baseline.md pointing at it.
        session = int((repo / ".perfgate" / "work" / "baseline.md").read_text()
                      .split("session: ")[1].split()[0])
        assert store.session(session)["status"] == "complete"


@pytest.mark.slow
def test_two_contracts_measure_concurrently_on_one_store(repo):
    (repo / "contracts" / "other.yaml").write_text(contract_yaml(name="other"))
    for name in ("work", "other"):
        assert perfgate("scope", name, "--yes", cwd=repo).returncode == 0
    procs = [subprocess.Popen([PY, "-m", "perfgate", "baseline", name], cwd=repo,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("work", "other")]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    _, rows = Store(repo / ".perfgate" / "perfgate.duckdb").query(
        "SELECT contract, status, count(*) FROM sessions WHERE role = 'baseline' GROUP BY ALL "
        "ORDER BY contract")
    assert rows == [("other", "complete", 1), ("work", "complete", 1)]
    for name in ("work", "other"):
        state = (repo / ".perfgate" / name / "state.yaml").read_text()
        assert f"contract: {name}" in state and "status: baselined" in state


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_a_baseline_leaves_nothing_running(repo, sig):
    (repo / "work.py").write_text("import time\nt = time.time()\nwhile time.time() - t < 0.4: pass\n")
    git(repo, "commit", "-qam", "slow")
    _marked_contract(repo)
    assert perfgate("scope", "work", "--yes", cwd=repo).returncode == 0
    p = subprocess.Popen([PY, "-m", "perfgate", "baseline", "work"], cwd=repo,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not _marked() and time.monotonic() < deadline:
        time.sleep(0.02)
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    time.sleep(0.1)
    assert _marked() == []
    _, rows = Store(repo / ".perfgate" / "perfgate.duckdb").query(
        "SELECT status FROM sessions WHERE role = 'baseline'")
    assert rows == [("aborted",)]
    assert perfgate("baseline", "work", cwd=repo).returncode == 0  # resumes and completes
    assert os.path.exists(repo / ".perfgate" / "work" / "baseline.md")


def test_an_unwritable_perfgate_dir_is_a_clear_error(repo):
    (repo / ".perfgate").write_text("not a directory\n")  # root ignores modes; this cannot
    r = perfgate("scope", "work", cwd=repo)
    assert r.returncode in (2, 3)
    assert r.stderr.startswith("Error: ") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_ctrl_c_while_the_fixer_runs_kills_it_and_resumes(tmp_path):
    from perfgate.demo import make_repo

    root = make_repo(tmp_path / "demo")
    assert perfgate("scope", "demo", "--yes", cwd=root).returncode == 0
    slow_fixer = f"{PY} -c 'import time; time.sleep(30)' {MARK}"
    p = subprocess.Popen([PY, "-m", "perfgate", "run", "demo", "--fixer", slow_fixer], cwd=root,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _marked() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _marked(), "the fixer never started"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, out + err
    time.sleep(0.1)
    assert _marked() == []
    fixer = f"{PY} -m perfgate._demo.fixer {{worktree}} {{hotspot_json}}"
    r = perfgate("run", "demo", "--fixer", fixer, cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "gap_counts: accepted" in r.stdout
