"""The doit task graph: one task per stage, one subtask per contract. dodo.py imports this.

A `Graph` is one run of doit: its options go in as task parameters, each stage's result
comes back as the task's `values` and in `Graph.results`. Nothing lives in module globals,
so two runs in one process (the loop, the demo, the tests) never see each other's state.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from perfgate.errors import Interrupted, PerfgateError
from perfgate.workspace import Project, Workspace

__all__ = ["DOIT_CONFIG", "task_scoping", "task_baseline", "task_profiling", "task_proposing",
           "task_fixing", "task_measuring", "task_gating", "task_gate"]

STAGES = ("scoping", "baseline", "profiling", "proposing", "fixing", "measuring", "gating")

# Task parameters: `doit measuring --no-interleave`, or the options of pipeline.run_stage.
PARAMS: dict[str, list[dict[str, Any]]] = {
    "fixing": [{"name": "fixer", "long": "fixer", "type": str, "default": None,
                "help": "command that edits the work tree ({brief}, {hotspot_json}, "
                        "{worktree} become arguments)"}],
    "measuring": [
        {"name": "interleave", "long": "interleave", "inverse": "no-interleave", "type": bool,
         "default": True, "help": "re-measure the base alongside the candidate"},
        {"name": "allow_mismatch", "long": "allow-fingerprint-mismatch", "type": bool,
         "default": False, "help": "with --no-interleave: a baseline from another machine"},
        {"name": "adaptive", "long": "adaptive", "inverse": "no-adaptive", "type": bool,
         "default": None, "help": "add rounds while the verdict is inconclusive"}],
    "gating": [{"name": "label", "long": "label", "type": str, "default": None,
                "help": "the name of the change in commit messages and archives"}],
}


class Graph:
    """One doit run over a project: task creators bound to this run's options and results."""

    def __init__(self, root: Path, options: Mapping[str, Any] | None = None, *,
                 contracts: Sequence[Path] = (), echo: bool = True) -> None:
        self.project = Project(Path(root))
        self.options = dict(options or {})
        self.contracts = [Path(p) for p in contracts]   # beside contracts/*.yaml
        self.echo = echo                                # dodo.py: print one line per verdict
        self.results: dict[str, Any] = {}               # "stage:stem" -> pipeline.StageResult
        self.error: BaseException | None = None

    # -- running ---------------------------------------------------------------------------

    def namespace(self, reporter: Any = None) -> dict[str, Any]:
        ns: dict[str, Any] = {name: getattr(self, name) for name in __all__
                              if name.startswith("task_")}
        ns["DOIT_CONFIG"] = self.config(reporter)
        return ns

    def config(self, reporter: Any = None) -> dict[str, Any]:
        """sqlite3 with an absolute dep file: the dbm backends lose records under concurrency."""
        self.project.dir.mkdir(parents=True, exist_ok=True)
        cfg: dict[str, Any] = {"backend": "sqlite3", "dep_file": str(self.project.doit_dep_file),
                               "verbosity": 2, "default_tasks": ["baseline"]}
        if reporter is not None:
            cfg["reporter"] = reporter
        return cfg

    def doit(self, args: list[str]) -> int:
        """Run doit in-process over this graph; returns doit's exit code."""
        from doit.cmd_base import ModuleTaskLoader
        from doit.doit_cmd import DoitMain

        loader = ModuleTaskLoader(self.namespace(reporter=_SilentReporter))
        return DoitMain(loader, config_filenames=()).run(args)

    def _workspaces(self) -> Iterator[tuple[str, Path, Workspace]]:
        """Every contract under contracts/ and those given, named by file; a broken one still
        gets a task (its action reports the error)."""
        paths = {p.stem: p for p in self.project.contract_files()}
        paths.update({p.stem: p for p in self.contracts})
        for stem, path in sorted(paths.items()):
            yield stem, path, self.project.workspace(str(path))

    def _action(self, stage: str, contract_path: str, **params: Any) -> Any:
        from doit.exceptions import TaskFailed

        from perfgate import pipeline
        from perfgate.sessions import progress_bar

        # Declared parameters default to this run's options (see _subtasks), so a value
        # given on doit's command line wins; the rest (a manual fixer callable) are options.
        options = {**self.options, **params}
        try:
            ws = self.project.workspace(contract_path)
            with progress_bar() as progress:
                returned = pipeline.stage_function(stage)(ws, progress=progress, **{
                    k: v for k, v in options.items() if k in pipeline.STAGE_OPTIONS[stage]})
            result = pipeline.result_of(stage, ws, returned)
        except PerfgateError as exc:
            self.error = exc
            return TaskFailed(str(exc))
        except KeyboardInterrupt:
            # doit would swallow it into a generic error; the CLI must exit 130.
            self.error = Interrupted("interrupted; run the same command again to resume")
            return TaskFailed("interrupted")
        except Exception as exc:  # reported by the CLI's handler as unexpected (exit 3)
            self.error = exc
            return TaskFailed(f"unexpected {exc.__class__.__name__}: {exc}")
        self.results[f"{stage}:{Path(contract_path).stem}"] = result
        if stage == "gating" and self.echo:
            print(f"{ws.name}: {result.result} ({ws.display(ws.artifact('gating'))})")
        return result.values()

    # -- the stages --------------------------------------------------------------------------

    def _subtasks(self, stage: str, deps: Callable[[Workspace], list[Path]],
                  uptodate: Callable[[Workspace], list[Any]] = lambda ws: []
                  ) -> Iterator[dict[str, Any]]:
        yield {"basename": stage, "name": None, "doc": getattr(self, f"task_{stage}").__doc__}
        params = PARAMS.get(stage, [])
        for stem, path, ws in self._workspaces():
            yield {"name": stem, "actions": [(self._action, [stage, str(path)])],
                   "file_dep": [str(p) for p in [path, *deps(ws)]],
                   "targets": [str(_artifact_path(ws, stage))], "uptodate": uptodate(ws),
                   "params": [{**p, "default": self.options.get(p["name"], p["default"])}
                              for p in params],
                   "verbosity": 2}

    def task_scoping(self) -> Iterator[dict[str, Any]]:
        """Recon the repo and pre-flight the repro: writes scoping.md (result: pending)."""
        yield from self._subtasks("scoping", lambda ws: [])

    def task_baseline(self) -> Iterator[dict[str, Any]]:
        """Measure the approved contract on its base commit: baseline.md and a store session."""
        yield from self._subtasks("baseline", lambda ws: [_artifact_path(ws, "scoping")])

    def task_profiling(self) -> Iterator[dict[str, Any]]:
        """Run the contract's profiler on the last accepted code: a profile under profiles/."""
        yield from self._subtasks("profiling", lambda ws: [_artifact_path(ws, "scoping")],
                                  _always)

    def task_proposing(self) -> Iterator[dict[str, Any]]:
        """Rank the project's hotspots in the profile: hotspots.md and hotspots.json."""
        yield from self._subtasks("proposing", lambda ws: [_artifact_path(ws, "profiling")],
                                  _always)

    def task_fixing(self) -> Iterator[dict[str, Any]]:
        """Brief a fixer on the next untried hotspot and let it edit the work tree."""
        yield from self._subtasks("fixing", lambda ws: [_artifact_path(ws, "hotspots")], _always)

    def task_measuring(self) -> Iterator[dict[str, Any]]:
        """Verify the candidate (the work tree), then measure it against the base, interleaved."""
        yield from self._subtasks("measuring", lambda ws: [_artifact_path(ws, "scoping")],
                                  _candidate)

    def task_gating(self) -> Iterator[dict[str, Any]]:
        """Decide on the measurement; accepted: commit on perfgate/<name>, else archive + reset."""
        yield from self._subtasks("gating", lambda ws: [_artifact_path(ws, "measuring")])

    def task_gate(self) -> dict[str, Any]:
        """Gate the candidate in .perfgate/<name>/work: measuring then gating (exit 1 unless
        every contract's candidate was accepted)."""
        return {"actions": [_gate_result], "task_dep": ["gating"], "doc": self.task_gate.__doc__,
                "getargs": {"verdicts": ("gating", "result")}, "uptodate": [False],
                "verbosity": 2}


def _gate_result(verdicts: Mapping[str, Any] | None = None) -> Any:
    """`doit gate` fails when a contract's candidate was rejected or inconclusive."""
    from doit.exceptions import TaskFailed

    kept_out = sorted(f"{name.split(':')[-1]} ({v})" for name, v in (verdicts or {}).items()
                      if v != "accepted")
    return TaskFailed("not accepted: " + ", ".join(kept_out)) if kept_out else None


def _always(ws: Workspace) -> list[Any]:
    """The loop's own stages run whenever state.yaml says so, not when files change."""
    return [False]


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


class _SilentReporter:
    """The CLI prints its own lines; doit's dots and tracebacks would only repeat them."""

    desc = "silent"

    def __init__(self, outstream: Any, options: Any) -> None:
        self.errors: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **k: None


def __getattr__(name: str) -> Any:
    # `from perfgate.tasks import *` in a dodo.py: a graph of the project in the current
    # directory (doit runs one graph per process, and reads results back through `values`).
    if name in __all__:
        graph = Graph(Path.cwd())
        return graph.config() if name == "DOIT_CONFIG" else getattr(graph, name)
    raise AttributeError(name)
