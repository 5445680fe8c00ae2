"""The one way to run a stage: through doit, in-process, with a typed result.

The CLI, the loop, the demo and `doit` itself all go through here (dodo.py through
tasks.Graph, the rest through `run_stage`), so "run a stage, read what it did, map the exit
code" exists once.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfgate.errors import PerfgateError
from perfgate.workspace import Workspace

# What each stage's function accepts besides the workspace and a progress bar.
STAGE_OPTIONS: dict[str, frozenset[str]] = {
    "scoping": frozenset(), "baseline": frozenset(), "profiling": frozenset(),
    "proposing": frozenset(), "fixing": frozenset({"fixer", "manual"}),
    "measuring": frozenset({"interleave", "allow_mismatch", "adaptive"}),
    "gating": frozenset({"label"}),
}

# The exit code of a finished gate, by verdict (README: exit codes).
VERDICT_EXIT = {"accepted": 0, "rejected": 1, "inconclusive": 4}


@dataclass(frozen=True)
class StageResult:
    """What one stage did: its artifact's `result:`, the artifact, and typed extras."""

    stage: str
    contract: str
    ran: bool                          # False: doit found the stage up to date
    result: str | None                 # pending, done, none, broken, accepted, ...
    artifact: Path | None
    document: Mapping[str, Any] | None = None   # gating: the verdict document
    fix: Any = None                             # fixing: stages.fixing.FixOutcome
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str | None:
        return None if self.document is None else str(self.document["verdict"])

    @property
    def exit_code(self) -> int:
        return VERDICT_EXIT.get(self.verdict or "", 0)

    def values(self) -> dict[str, Any]:
        """What doit keeps as the task's `values` (JSON-able): `doit gate` reads them."""
        return {"result": self.result, "artifact": str(self.artifact) if self.artifact else None}


def stage_function(stage: str) -> Callable[..., Any]:
    """The function behind a stage; each takes (workspace, *, progress, **its options)."""
    from perfgate.stages import baseline, fixing, gating, measuring, profiling, proposing, scoping

    return {"scoping": scoping.scope, "baseline": baseline.baseline, "profiling": profiling.run,
            "proposing": proposing.run, "fixing": fixing.run, "measuring": measuring.run,
            "gating": gating.run}[stage]


def result_of(stage: str, ws: Workspace, returned: Any) -> StageResult:
    """The stage's return value (an Artifact, a verdict document, a FixOutcome) made uniform."""
    from perfgate.artifacts import Artifact

    path = ws.artifact("hotspots" if stage == "proposing" else stage)
    if isinstance(returned, Artifact):
        return StageResult(stage, ws.name, True, returned.result, path,
                           extra=dict(returned.meta))
    if stage == "gating":
        return StageResult(stage, ws.name, True, str(returned["verdict"]), path,
                           document=returned)
    if stage == "fixing":
        return StageResult(stage, ws.name, True, str(returned.result), path, fix=returned)
    raise TypeError(f"stage {stage} returned {type(returned).__name__}")


def run_stage(ws: Workspace, stage: str, *, force: bool = False,
              **options: Any) -> StageResult:
    """Run one stage of one contract through doit (its upstream stages too, if stale).

    `force` makes doit forget this task only (not its upstream: --always-execute would
    re-run scoping, which resets the approval). Raises the stage's own error; an up-to-date
    stage comes back with ran=False and the artifact it left last time.
    """
    from perfgate import artifacts
    from perfgate.tasks import Graph

    _ = ws.contract  # validate first: a contract error is exit 2 before doit starts
    graph = Graph(ws.root, options, contracts=[ws.contract_path], echo=False)
    task = f"{stage}:{ws.contract_path.stem}"
    if force:
        graph.doit(["forget", task])
    code = graph.doit(["run", task])
    if graph.error is not None:
        raise graph.error
    if code != 0:
        raise PerfgateError(f"doit {stage} failed with exit code {code}")
    if task in graph.results:
        return graph.results[task]
    path = ws.artifact(stage)
    art = artifacts.read_artifact(path)
    return StageResult(stage, ws.name, False, art.result if art else None, path)
