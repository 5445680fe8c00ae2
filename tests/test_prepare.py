"""Set-up and build per worktree on real git repositories: run once per key, cached, never
another commit's dependencies or build; base failures are errors, candidate ones rejections."""
import json
import textwrap

import pytest

from perfgate import prepare, vcs
from perfgate.errors import MeasurementError, PerfgateError
from perfgate.workspace import Project
from tests.conftest import PY, contract_yaml, git, perfgate

# The set-up "installs" the version named in requirements.txt into deps/ (ignored), like npm ci into
# node_modules; the build "compiles" app.txt into out/ (ignored). Both log every run outside
# the tree, so a test can count them.
SETUP = "mkdir -p deps && cp requirements.txt deps/installed && echo setup >> {log}"
BUILD = "mkdir -p out && cp app.txt out/app.bin && echo build >> {log}"


@pytest.fixture
def proj(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("deps/\nout/\n*.tmp\n")
    (root / "requirements.txt").write_text("v1\n")
    (root / "app.txt").write_text("app 1\n")
    (root / "work.py").write_text("print('hi')\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "v1")
    log = tmp_path / "log"
    (root / "contracts").mkdir()
    (root / "contracts" / "work.yaml").write_text(contract_yaml() + textwrap.dedent(f"""\
        setup: "{SETUP.format(log=log)}"
        build: "{BUILD.format(log=log)}"
        """))
    return root, log


def runs(log):
    return log.read_text().split() if log.exists() else []


def test_setup_and_build_run_once_per_key_and_never_carry_another_commits_files(proj):
    root, log = proj
    ws = Project(root).workspace("work")
    v1 = vcs.head(root)
    wt = vcs.ensure_worktree(root, ws.base_tree, v1)
    first = prepare.ensure(ws, wt)
    assert first.ran == ("setup", "build") and runs(log) == ["setup", "build"]
    assert (wt / "deps" / "installed").read_text() == "v1\n"
    assert first.tree == git(root, "rev-parse", "HEAD^{tree}")
    # The same tree again costs nothing.
    assert prepare.ensure(ws, wt).ran == () and runs(log) == ["setup", "build"]

    # New code, same lockfile: the dependencies stay, the old build and leftovers go.
    (root / "app.txt").write_text("app 2\n")
    git(root, "commit", "-qam", "code")
    (wt / "out" / "stale-from-v1").write_text("old")
    (wt / "leftover.tmp").write_text("a repro's output")
    wt = vcs.ensure_worktree(root, ws.base_tree, vcs.head(root))
    assert prepare.ensure(ws, wt).ran == ("build",)
    assert runs(log) == ["setup", "build", "build"]
    assert not (wt / "out" / "stale-from-v1").exists() and not (wt / "leftover.tmp").exists()
    assert (wt / "out" / "app.bin").read_text() == "app 2\n"

    # A new lockfile: everything ignored goes, the set-up runs again.
    (root / "requirements.txt").write_text("v2\n")
    git(root, "commit", "-qam", "deps")
    (wt / "deps" / "extra-from-v1").write_text("old dependency")
    wt = vcs.ensure_worktree(root, ws.base_tree, vcs.head(root))
    assert prepare.ensure(ws, wt).ran == ("setup", "build")
    assert (wt / "deps" / "installed").read_text() == "v2\n"
    assert not (wt / "deps" / "extra-from-v1").exists()

    # Back to the first commit: its own dependencies, not v2's.
    wt = vcs.ensure_worktree(root, ws.base_tree, v1)
    assert prepare.ensure(ws, wt).ran == ("setup", "build")
    assert (wt / "deps" / "installed").read_text() == "v1\n"

    # Dependencies deleted by hand are noticed.
    import shutil

    shutil.rmtree(wt / "deps")
    assert prepare.ensure(ws, wt).ran == ("setup", "build")


def test_a_candidates_untracked_files_survive_the_clean(proj):
    root, log = proj
    ws = Project(root).workspace("work")
    wt = vcs.ensure_worktree(root, ws.work_tree, vcs.head(root), branch=ws.branch)
    (wt / "new_module.py").write_text("x = 1\n")   # the fixer's new file: part of the candidate
    (wt / "stale.tmp").write_text("ignored")
    prepare.ensure(ws, wt)
    assert (wt / "new_module.py").exists() and not (wt / "stale.tmp").exists()


def test_without_setup_a_worktree_still_gets_clean_ignored_files_per_tree(proj):
    """The issue's bug 2: a repro that installs when deps/ is missing kept the previous
    commit's deps in a reused worktree."""
    root, _ = proj
    c = (root / "contracts" / "work.yaml").read_text()
    (root / "contracts" / "work.yaml").write_text(c.split("setup:")[0])
    ws = Project(root).workspace("work")
    wt = vcs.ensure_worktree(root, ws.base_tree, vcs.head(root))
    prepare.ensure(ws, wt)
    (wt / "deps").mkdir()
    (wt / "deps" / "installed").write_text("v1\n")
    assert prepare.ensure(ws, wt).removed == 0      # same tree: kept
    (root / "requirements.txt").write_text("v2\n")
    git(root, "commit", "-qam", "deps")
    wt = vcs.ensure_worktree(root, ws.base_tree, vcs.head(root))
    assert prepare.ensure(ws, wt).removed == 1 and not (wt / "deps").exists()


def test_failures_name_the_command_and_the_error(proj):
    root, _ = proj
    c = (root / "contracts" / "work.yaml").read_text().split("setup:")[0]
    (root / "contracts" / "work.yaml").write_text(
        c + "setup: \"echo 'npm ERR! missing: left-pad@1.3.0' >&2; exit 1\"\n")
    ws = Project(root).workspace("work")
    wt = vcs.ensure_worktree(root, ws.base_tree, vcs.head(root))
    with pytest.raises(prepare.SetupFailed) as exc:
        prepare.ensure(ws, wt)
    assert str(exc.value) == ("setup `echo 'npm ERR! missing: left-pad@1.3.0' >&2; exit 1` "
                              "failed (exit 1): npm ERR! missing: left-pad@1.3.0")
    # A build that writes where git looks would change the candidate: refused, with the path.
    (root / "contracts" / "work.yaml").write_text(c + "build: \"echo x > generated.txt\"\n")
    ws = Project(root).workspace("work")
    with pytest.raises(prepare.SetupFailed, match=r"build changed files that git does not "
                       r"ignore \(generated.txt\); add them to .gitignore"):
        prepare.ensure(ws, wt)


def test_never_in_the_users_checkout(proj):
    root, log = proj
    ws = Project(root).workspace("work")
    (root / "keep.tmp").write_text("the user's ignored file")
    with pytest.raises(PerfgateError, match="user's own checkout"):
        prepare.ensure(ws, root)
    assert (root / "keep.tmp").exists() and runs(log) == []


def test_reset_removes_a_rejected_candidates_ignored_files(proj):
    root, _ = proj
    head = vcs.head(root)
    wt = vcs.ensure_worktree(root, root / ".perfgate" / "x" / "work", head, branch="perfgate/x")
    (wt / "deps").mkdir()
    (wt / "deps" / "bumped").write_text("the candidate's dependency")
    vcs.reset(wt, head)
    assert not (wt / "deps").exists()


def _gate_repo(root, setup_line):
    c = (root / "contracts" / "work.yaml").read_text().split("setup:")[0]
    (root / "contracts" / "work.yaml").write_text(c + setup_line)


def test_a_base_that_cannot_set_up_is_an_error_and_a_candidate_that_cannot_is_rejected(proj):
    root, _ = proj
    base = vcs.head(root)
    # The base's build fails (it needs a file the base does not have); the fix adds it.
    _gate_repo(root, "build: \"test -f ok || { echo 'error: missing ok' >&2; exit 2; }\"\n")
    (root / "ok").write_text("")
    git(root, "add", "ok")
    git(root, "commit", "-qm", "fix the build")
    fixed = vcs.head(root)
    r = perfgate("compare", "work", "--base", base, "--head", fixed, "--yes", cwd=root)
    assert r.returncode == 2, r.stdout + r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "verdict" not in r.stdout
    assert f"the base side at {base[:12]} cannot be measured: build `test -f ok" in line
    assert "failed (exit 2): error: missing ok" in line
    # The other way round the candidate is the one that fails: a rejection that says so.
    r = perfgate("compare", "work", "--base", fixed, "--head", base, "--yes", "--json",
                 cwd=root)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "rejected"
    assert doc["reasons"][0].startswith("candidate: build `test -f ok")
    assert "error: missing ok" in doc["reasons"][0]


def test_a_base_whose_repro_cannot_run_is_an_error_not_a_rejection(proj):
    """The issue's item 4: exit 127 on the base came out as `verdict: rejected`."""
    root, _ = proj
    base = vcs.head(root)
    _gate_repo(root, "")
    c = (root / "contracts" / "work.yaml").read_text()
    (root / "contracts" / "work.yaml").write_text(c.replace(f"script: {PY} work.py",
                                                            "script: ./run.sh"))
    (root / "run.sh").write_text(f"#!/bin/sh\nexec {PY} work.py\n")
    (root / "run.sh").chmod(0o755)
    git(root, "add", "run.sh")
    git(root, "commit", "-qm", "a runner")
    r = perfgate("compare", "work", "--base", base, "--head", "HEAD", "--yes", cwd=root)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "verdict" not in r.stdout
    assert "the base side at" in r.stderr and "`./run.sh`" in r.stderr
    assert "not found" in r.stderr or "No such file" in r.stderr


def test_measuring_md_says_what_set_up_and_build_did(proj):
    root, log = proj
    git(root, "commit", "-qm", "x", "--allow-empty")
    r = perfgate("compare", "work", "--base", "HEAD~1", "--head", "HEAD", "--yes", cwd=root)
    assert r.returncode in (0, 1, 4), r.stderr
    assert runs(log).count("setup") == 2   # one per worktree
    r = perfgate("compare", "work", "--base", "HEAD~1", "--head", "HEAD", "--yes", cwd=root)
    assert runs(log).count("setup") == 2   # the second gate of the same commits: cached


def test_a_base_failure_in_measure_pair_raises(proj):
    """The library side of the same rule (what `perfgate gate` and the loop call)."""
    from perfgate.sessions import Side
    from perfgate.stages import measuring

    root, _ = proj
    _gate_repo(root, "setup: \"exit 3\"\n")
    ws = Project(root).workspace("work")
    wt = vcs.ensure_worktree(root, ws.base_tree, vcs.head(root))
    base = Side("baseline", "baseline", wt, vcs.head(root), vcs.tree_hash(wt))
    cand = Side("candidate", "candidate", wt, vcs.head(root), vcs.tree_hash(wt))
    with pytest.raises(MeasurementError, match="the base side at .* cannot be measured"):
        measuring.measure_pair(ws, base, cand)


def test_a_base_far_from_its_own_baseline_is_a_warning_in_the_verdict(tmp_path, repo):
    """The issue's silent failure: the same base commit measured 0.42 s in the baseline and
    0.14 s in the gate, and nothing said so."""
    import os

    size = tmp_path / "size"
    size.write_text("0.6")     # seconds of sleep: a 10x gap that a loaded machine cannot blur
    (repo / "work.py").write_text(
        "import os, time\ntime.sleep(float(open(os.environ['SIZE_FILE']).read()))\n")
    git(repo, "commit", "-qam", "reads its size")
    (repo / "contracts" / "work.yaml").write_text(contract_yaml(runs=5))
    env = {**os.environ, "SIZE_FILE": str(size)}
    assert perfgate("scope", "work", "--yes", cwd=repo, env=env).returncode == 0
    assert perfgate("baseline", "work", cwd=repo, env=env).returncode == 0
    size.write_text("0.06")        # outside the tree: the base is no longer what was measured
    (repo / "work.py").write_text((repo / "work.py").read_text() + "# an edit\n")
    r = perfgate("gate", "work", "--from-checkout", "--json", cwd=repo, env=env)
    doc = json.loads(r.stdout)
    assert len(doc["warnings"]) == 1, doc
    assert "in this gate but" in doc["warnings"][0] and "far beyond the noise" in doc["warnings"][0]
    assert "warning: the base commit" in r.stderr
    gating = (repo / ".perfgate" / "work" / "gating.md").read_text()
    assert "## Warnings" in gating
