"""`perfgate demo`: a scratch git repository with the demo program, scoped, approved, baselined."""
from __future__ import annotations

import importlib.resources
import shlex
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from perfgate import harness
from perfgate.errors import UsageError

DEMO_FILES = ("slow.py", "test_slow.py", "conftest.py", "bench.py")
FIXER = "{python} -m perfgate._demo.fixer {{worktree}} {{hotspot_json}}"


def contract_text(python: str, name: str = "contract.yaml") -> str:
    """The demo contract, with this interpreter so the demo does not depend on PATH."""
    src = importlib.resources.files("perfgate._demo").joinpath(name).read_text()
    return src.replace("python ", f"{python} ")


def make_repo(directory: Path, suite: bool = False) -> Path:
    """Create the demo repository: the program, its tests and the contract, in one commit."""
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"demo: {directory} is not empty; pass an empty or new --dir")
    target = directory / "examples" / "demo"
    target.mkdir(parents=True)
    demo = importlib.resources.files("perfgate._demo")
    for name in DEMO_FILES:
        (target / name).write_text(demo.joinpath(name).read_text())
    (directory / "contracts").mkdir()
    (directory / "contracts" / "demo.yaml").write_text(contract_text(shlex.quote(sys.executable)))
    if suite:
        (directory / "contracts" / "demo-suite.yaml").write_text(
            contract_text(shlex.quote(sys.executable), "suite.yaml"))
    (directory / ".gitignore").write_text(".perfgate/\n__pycache__/\n")
    from perfgate.wizard import write_dodo

    write_dodo(directory)          # `doit list` works in the demo repository too
    git = ["git", "-c", "user.name=perfgate demo", "-c", "user.email=demo@perfgate.invalid"]
    for argv in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                 [*git, "commit", "-q", "-m", "demo: a slow prime counter"]):
        res = harness.call(argv, cwd=directory)
        if res.returncode != 0:
            raise UsageError(f"demo: {' '.join(argv[:2])} failed: "
                             f"{res.stderr.decode(errors='replace').strip()}")
    return directory


def run(directory: Path | None) -> Iterator[str]:
    """Scope, approve, baseline, then the loop with the scripted fixer; yields lines to show.

    Without a directory the scratch repository lives in a temp dir and is removed at the end
    (the report is printed); with --dir it stays, and every path printed is absolute."""
    import shutil

    from perfgate import approval, loop
    from perfgate.pipeline import run_stage
    from perfgate.workspace import Project

    scratch = directory is None
    root = Path(tempfile.mkdtemp(prefix="perfgate-demo-")) if scratch else directory
    try:
        make_repo(root.resolve())
        root = root.resolve()
        yield f"demo repository: {root}" + (" (a scratch copy, removed at the end)"
                                            if scratch else "")
        ws = Project(root).workspace("demo")
        run_stage(ws, "scoping")
        yield f"scoping: {ws.artifact('scoping')}"
        approval.approve(ws)
        yield "approved the contract (perfgate approve demo)"
        run_stage(ws, "baseline")
        yield f"baseline: {ws.artifact('baseline')}"
        fixer = FIXER.format(python=shlex.quote(sys.executable))
        yield f"the loop, with the scripted fixer: perfgate run demo --fixer '{fixer}'"
        yield from loop.run(ws, fixer)
        if not scratch:
            yield (f"the store: {ws.project.store_path}; try: cd {root} && perfgate status")
    finally:
        if scratch:
            shutil.rmtree(root, ignore_errors=True)
    if scratch:
        yield f"removed {root}; keep the repository with: perfgate demo --dir DIR"


def run_suite(directory: Path | None) -> Iterator[str]:
    """The suite demo: the demo repository, one commit that speeds up one kernel (the first
    prepared fix), and a suite gate of that commit against its parent over six benchmarks."""
    from perfgate import compare, report
    from perfgate.workspace import Project

    root = Path(tempfile.mkdtemp(prefix="perfgate-demo-")) if directory is None else directory
    make_repo(root.resolve(), suite=True)
    root = root.resolve()
    yield f"demo repository: {root}"
    patch = importlib.resources.files("perfgate._demo").joinpath("fixes/1-gap_counts.patch")
    git = ["git", "-c", "user.name=perfgate demo", "-c", "user.email=demo@perfgate.invalid"]
    for argv in (["git", "apply", "-"], [*git, "commit", "-q", "-am",
                                         "demo: count gaps in one pass"]):
        res = harness.call(argv, cwd=root, input=patch.read_bytes() if "apply" in argv else None)
        if res.returncode != 0:
            raise UsageError(f"demo: {' '.join(argv[:2])} failed: "
                             f"{res.stderr.decode(errors='replace').strip()}")
    yield "committed a change to gap_counts; gating it on the whole suite (contracts/demo-suite.yaml)"
    ws = Project(root).workspace("demo-suite")
    doc = compare.compare(ws, "main~1", "main", yes=True)
    yield report.verdict_text(doc)
    yield f"the verdict: {ws.display(ws.dir / 'compare' / 'compare.md')}, the plot of every ratio: " \
          f"{ws.display(ws.dir / 'compare' / 'compare.png')}"
    yield f"per benchmark in SQL: cd {root} && perfgate sql \"SELECT benchmark, role, " \
          "median(value) FROM v_samples WHERE metric = 'cpu_time' AND benchmark IS NOT NULL " \
          "GROUP BY ALL ORDER BY ALL\""
