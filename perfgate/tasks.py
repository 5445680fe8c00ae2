"""The doit task graph: one task per stage, one subtask per contract. dodo.py imports this."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from perfgate.errors import PerfgateError
from perfgate.workspace import Project, Workspace

__all__ = ["DOIT_CONFIG", "task_scoping", "task_baseline"]

# The in-process CLI reads what happened here after doit returns: doit itself only knows
# "failed", while the CLI must print our one-line error and pick its exit code.
OUTCOME: dict[str, Any] = {"ran": [], "error": None}
_ROOT: Optional[Path] = None


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
    from perfgate.stages import baseline, scoping

    return {"scoping": scoping.scope, "baseline": baseline.baseline}[name]


def _action(stage: str, contract_path: str) -> Any:
    from doit.exceptions import TaskFailed

    from perfgate.sessions import progress_bar

    try:
        ws = Project(_root()).workspace(contract_path)
        with progress_bar() as progress:
            _stage(stage)(ws, progress=progress)
    except PerfgateError as exc:
        OUTCOME["error"] = exc
        return TaskFailed(str(exc))
    OUTCOME["ran"].append(f"{stage}:{ws.name}")
    return None


def _workspaces() -> Iterator[tuple[str, Path, Workspace]]:
    """Every contract under contracts/, named by its file; a broken one still gets a task."""
    project = Project(_root())
    for path in project.contract_files():
        yield path.stem, path, project.workspace(str(path))


def _subtasks(stage: str, deps: Callable[[Workspace], list[Path]]) -> Iterator[dict[str, Any]]:
    for stem, path, ws in _workspaces():
        yield {"name": stem, "actions": [(_action, [stage, str(path)])],
               "file_dep": [str(p) for p in [path, *deps(ws)]],
               "targets": [str(_artifact_path(ws, stage))], "verbosity": 2}


def task_scoping() -> Iterator[dict[str, Any]]:
    """Recon the repo and pre-flight the repro: writes scoping.md (result: pending)."""
    yield {"basename": "scoping", "name": None, "doc": task_scoping.__doc__}
    yield from _subtasks("scoping", lambda ws: [])


def task_baseline() -> Iterator[dict[str, Any]]:
    """Measure the approved contract on its base commit: writes baseline.md and a store session."""
    yield {"basename": "baseline", "name": None, "doc": task_baseline.__doc__}
    yield from _subtasks("baseline", lambda ws: [_artifact_path(ws, "scoping")])


def _artifact_path(ws: Workspace, stage: str) -> Path:
    try:
        return ws.artifact(stage)
    except PerfgateError:
        # An invalid contract still gets its task; the action reports the error as its failure.
        return ws.project.dir / ws.contract_path.stem / f"{stage}.md"


def run(root: Path, args: list[str]) -> int:
    """Run doit in-process over this project (what the CLI does). Returns doit's exit code."""
    global _ROOT
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    _ROOT = root
    OUTCOME["ran"], OUTCOME["error"] = [], None
    namespace = {"task_scoping": task_scoping, "task_baseline": task_baseline,
                 "DOIT_CONFIG": doit_config(root, reporter=_SilentReporter)}
    try:
        return DoitMain(ModuleTaskLoader(namespace), config_filenames=()).run(args)
    finally:
        _ROOT = None


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
