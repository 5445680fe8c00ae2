"""Shared fixtures: real git repositories with a small real program and a contract."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import settings

# The fuzz tests draw the same examples on every run by default, so CI's verdict on a commit is
# the commit's, not the luck of the draw; `--hypothesis-profile explore` draws new ones (and
# ten times more) to hunt for bugs, as found the sign slip in the best-gain arithmetic
# (now change.best_gain) on 2026-12-06.
settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", max_examples=1000, database=None)
settings.load_profile("default")

PY = sys.executable

# A shell without job control starts background jobs with SIGINT ignored, and an ignored signal
# stays ignored across exec: every perfgate the Ctrl-C tests start would shrug SIGINT off. Give
# this process a handler again, so its children start with SIGINT at its default.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

PROGRAM = textwrap.dedent("""\
    import sys
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60000
    total = 0
    for i in range(n):
        total += i * i % 7
    print("result", total)
""")


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def contract_yaml(name: str = "work", runs: int = 3, warmup: int = 0, extra: str = "") -> str:
    return textwrap.dedent(f"""\
        version: 1
        name: {name}
        domain: cli_startup
        repro:
          script: {PY} work.py
          warmup_runs: {warmup}
          measurement_runs: {runs}
          timeout_s: 60
        metrics:
          primary: {{name: wall_time, unit: s, lower_is_better: true}}
          watchdogs:
            - {{name: peak_rss, unit: MiB, lower_is_better: true, max_regression_pct: 50}}
        threshold: {{type: pct, pct_min: 20}}
        """) + extra


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch):
    """The adaptive gate's default depends on $CI; tests pin it (and CI runners set it).
    pytest-xdist's worker variables must not reach the programs a test runs either:
    pytest-benchmark, run as a suite's harness, disables itself when it sees them."""
    monkeypatch.delenv("CI", raising=False)
    for name in [n for n in os.environ if n.startswith("PYTEST_XDIST_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with work.py committed and contracts/work.yaml (untracked)."""
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "work.py").write_text(PROGRAM)
    git(root, "add", "work.py")
    git(root, "commit", "-q", "-m", "initial")
    (root / "contracts").mkdir()
    (root / "contracts" / "work.yaml").write_text(contract_yaml())
    return root


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`perfgate demo` run once for the whole session: its output and the repository it
    made (scoped, baselined, looped, with a store), for the tests that only read them."""
    root = tmp_path_factory.mktemp("demo") / "d"
    started = time.monotonic()
    r = perfgate("demo", "--dir", str(root), cwd=root.parent)
    r.took = time.monotonic() - started
    return root, r


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the user's checkout (outside .git and .perfgate), plus HEAD and status."""
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
             if p.is_file() and ".git" not in p.relative_to(root).parts[:1]
             and ".perfgate" not in p.relative_to(root).parts[:1]}
    files["<HEAD>"] = git(root, "rev-parse", "HEAD").encode()
    files["<status>"] = git(root, "status", "--porcelain").encode()
    files["<index>"] = (root / ".git" / "index").read_bytes()
    return files


def perfgate(*args: str, cwd: Path, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """The real command, as a user runs it."""
    kw.setdefault("check", False)
    return subprocess.run([PY, "-m", "perfgate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, **kw)
