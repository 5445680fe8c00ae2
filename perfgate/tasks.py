"""The doit task graph: one task per stage, one subtask per contract. dodo.py imports this."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from perfgate.errors import Interrupted, PerfgateError
from perfgate.workspace import Project, Workspace

__all__ = [
    "DOIT_CONFIG",
    "task_fixing",
    "task_profiling",
    "task_proposing",
    "task_baseline",
    "task_gate",
    "task_gating",
    "task_measuring",
    "task_scoping",
]

# The in-process CLI reads what happened here after doit returns: doit itself only knows
# "failed", while the CLI must print our one-line error and pick its exit code.
OUTCOME: dict[str, Any] = {"ran": [], "error": None, "verdicts": {}, "results": {}}
# Options of the CLI command that started doit (e.g. --no-interleave), read by the actions.
OPTIONS: dict[str, Any] = {}
_ROOT: Path | None = None


def doit_config(root: Path, reporter: Any = None) -> dict[str, Any]:
    """sqlite3 with an absolute dep file: the dbm backends lose records under concurrency."""
    project = Project(root)
    project.dir.mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {"backend": "sqlite3", "dep_file": str(project.doit_dep_file),
                           "verbosity": 2, "default_tasks": ["baseline"]}
    if reporter is not None:
        cfg["reporter"] = reporter
    return cfg


def _root() -> Path:
    return _ROOT if _ROOT is not None else Path.cwd()


def _stage(name: str) -> Callable[..., Any]:
    from perfgate.stages import baseline, fixing, gating, measuring, profiling, proposing, scoping

    return {"scoping": scoping.scope, "baseline": baseline.baseline,
            "profiling": profiling.run, "proposing": proposing.run,
            "fixing": lambda ws, progress: fixing.run(
                ws, fixer=OPTIONS.get("fixer"), manual=OPTIONS.get("manual")),
            "measuring": lambda ws, progress: measuring.run(
                ws, interleave=OPTIONS.get("interleave", True),
                allow_mismatch=OPTIONS.get("allow_mismatch", False), progress=progress,
                adaptive=OPTIONS.get("adaptive")),
            "gating": lambda ws, progress: gating.run(ws, label=OPTIONS.get("label"))}[name]


def _action(stage: str, contract_path: str) -> Any:
    from doit.exceptions import TaskFailed

    from perfgate.sessions import progress_bar

    try:
        ws = Project(_root()).workspace(contract_path)
        with progress_bar() as progress:
            result = _stage(stage)(ws, progress=progress)
    except PerfgateError as exc:
        OUTCOME["error"] = exc
        return TaskFailed(str(exc))
    except KeyboardInterrupt:
        # doit would swallow it into a generic error; the CLI must exit 130.
        OUTCOME["error"] = Interrupted("interrupted; run the same command again to resume")
        return TaskFailed("interrupted")
    except Exception as exc:  # noqa: BLE001 - reported by the CLI's handler as unexpected
        OUTCOME["error"] = exc
        return TaskFailed(f"unexpected {exc.__class__.__name__}: {exc}")
    OUTCOME["ran"].append(f"{stage}:{ws.contract_path.stem}")
    OUTCOME["results"][stage] = result
    if stage == "gating":
        OUTCOME["verdicts"][ws.name] = result
        if not OPTIONS.get("cli"):
            print(f"{ws.name}: {result['verdict']} ({ws.display(ws.artifact('gating'))})")
    return None


def _gate_result() -> Any:
    """`doit gate` fails (exit 1) when a contract's candidate was rejected or inconclusive."""
    from doit.exceptions import TaskFailed

    kept_out = sorted(f"{n} ({d['verdict']})" for n, d in OUTCOME["verdicts"].items()
                      if d["verdict"] != "accepted")
    return TaskFailed("not accepted: " + ", ".join(kept_out)) if kept_out else None


def _workspaces() -> Iterator[tuple[str, Path, Workspace]]:
    """Every contract under contracts/, named by its file; a broken one still gets a task."""
    project = Project(_root())
    for path in project.contract_files():
        yield path.stem, path, project.workspace(str(path))


def _subtasks(stage: str, deps: Callable[[Workspace], list[Path]],
              uptodate: Callable[[Workspace], list[Any]] = lambda ws: []
              ) -> Iterator[dict[str, Any]]:
    for stem, path, ws in _workspaces():
        yield {"name": stem, "actions": [(_action, [stage, str(path)])],
               "file_dep": [str(p) for p in [path, *deps(ws)]],
               "targets": [str(_artifact_path(ws, stage))], "uptodate": uptodate(ws),
               "verbosity": 2}


def task_scoping() -> Iterator[dict[str, Any]]:
    """Recon the repo and pre-flight the repro: writes scoping.md (result: pending)."""
    yield {"basename": "scoping", "name": None, "doc": task_scoping.__doc__}
    yield from _subtasks("scoping", lambda ws: [])


def task_baseline() -> Iterator[dict[str, Any]]:
    """Measure the approved contract on its base commit: writes baseline.md and a store session."""
    yield {"basename": "baseline", "name": None, "doc": task_baseline.__doc__}
    yield from _subtasks("baseline", lambda ws: [_artifact_path(ws, "scoping")])


def task_profiling() -> Iterator[dict[str, Any]]:
    """Run the contract's profiler on the last accepted code: a profile under profiles/."""
    yield {"basename": "profiling", "name": None, "doc": task_profiling.__doc__}
    yield from _subtasks("profiling", lambda ws: [_artifact_path(ws, "scoping")], _always)


def task_proposing() -> Iterator[dict[str, Any]]:
    """Rank the project's hotspots in the profile: hotspots.md and hotspots.json."""
    yield {"basename": "proposing", "name": None, "doc": task_proposing.__doc__}
    yield from _subtasks("proposing", lambda ws: [_artifact_path(ws, "profiling")], _always)


def task_fixing() -> Iterator[dict[str, Any]]:
    """Brief a fixer on the next untried hotspot and let it edit the work tree (perfgate run)."""
    yield {"basename": "fixing", "name": None, "doc": task_fixing.__doc__}
    yield from _subtasks("fixing", lambda ws: [_artifact_path(ws, "hotspots")], _always)


def _always(ws: Workspace) -> list[Any]:
    """The loop's own stages run whenever state.yaml says so, not when files change."""
    return [False]


def task_measuring() -> Iterator[dict[str, Any]]:
    """Verify the candidate (the work tree), then measure it against the base, interleaved."""
    yield {"basename": "measuring", "name": None, "doc": task_measuring.__doc__}
    yield from _subtasks("measuring", lambda ws: [_artifact_path(ws, "scoping")], _candidate)


def task_gating() -> Iterator[dict[str, Any]]:
    """Decide on the measurement; accepted: commit on perfgate/<name>, rejected: archive + reset."""
    yield {"basename": "gating", "name": None, "doc": task_gating.__doc__}
    yield from _subtasks("gating", lambda ws: [_artifact_path(ws, "measuring")])


def task_gate() -> dict[str, Any]:
    """Gate the candidate in .perfgate/<name>/work: measuring then gating (exit 1 if rejected)."""
    return {"actions": [_gate_result], "task_dep": ["gating"], "doc": task_gate.__doc__,
            "uptodate": [False], "verbosity": 2}


def _candidate(ws: Workspace) -> list[Any]:
    """The candidate's identity is its tree hash: an edit re-runs measuring, nothing else does."""
    from doit.tools import config_changed

    from perfgate import vcs

    try:
        tree = vcs.tree_hash(ws.work_tree) if ws.work_tree.is_dir() else None
        return [config_changed({"tree": tree, "contract": ws.contract.digest()})]
    except PerfgateError:
        return [False]


def _artifact_path(ws: Workspace, stage: str) -> Path:
    try:
        return ws.artifact(stage)
    except PerfgateError:
        # An invalid contract still gets its task; the action reports the error as its failure.
        return ws.project.dir / ws.contract_path.stem / f"{stage}.md"


def run(root: Path, args: list[str], **options: Any) -> int:
    """Run doit in-process over this project (what the CLI does). Returns doit's exit code."""
    global _ROOT
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    _ROOT = root
    OPTIONS.clear()
    OPTIONS.update(cli=True, **options)
    OUTCOME.update(ran=[], error=None, verdicts={}, results={})
    namespace = {name: globals()[name] for name in __all__ if name.startswith("task_")}
    namespace["DOIT_CONFIG"] = doit_config(root, reporter=_SilentReporter)
    try:
        return DoitMain(ModuleTaskLoader(namespace), config_filenames=()).run(args)
    finally:
        _ROOT = None
        OPTIONS.clear()


class _SilentReporter:
    """The CLI prints its own lines; doit's dots and tracebacks would only repeat them."""

    desc = "silent"

    def __init__(self, outstream: Any, options: Any) -> None:
        self.errors: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **k: None


def __getattr__(name: str) -> Any:
    # Computed on `from perfgate.tasks import *` in dodo.py, not on every import of this module.
    if name == "DOIT_CONFIG":
        return doit_config(Path.cwd())
    raise AttributeError(name)
