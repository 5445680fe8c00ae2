"""Stage 3, profiling: run the contract's profiler on the current code, in the work tree."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from perfgate import approval, artifacts, harness, prepare, secrets, vcs
from perfgate import state as state_mod
from perfgate.artifacts import Artifact
from perfgate.contract import Profiler
from perfgate.errors import MeasurementError, PerfgateError, UsageError
from perfgate.profiles import GLOB_CHARS, outputs
from perfgate.state import State, Status
from perfgate.workspace import Workspace


def clean_work_tree(ws: Workspace, state: State) -> Path:
    """The work tree at the last accepted commit, with nothing ungated in it."""
    root = vcs.repo_root(ws.root)
    work = vcs.ensure_worktree(root, ws.work_tree, state.head, branch=ws.branch)
    if vcs.dirty(work):
        raise UsageError(f"{ws.display(work)} holds an ungated change; gate it with `perfgate "
                         f"gate {ws.name}` or discard it before the loop goes on")
    return work


def _remove_outputs(tree: Path, output_path: str) -> None:
    for p in outputs(tree, output_path):
        p.unlink(missing_ok=True)
    target = tree / output_path
    if not any(ch in output_path for ch in GLOB_CHARS) and target.is_dir():
        shutil.rmtree(target)


def capture(ws: Workspace, tree: Path, profiler: Profiler, keep: Path) -> Path:
    """Run the profiler in `tree` (prepared, clean), move what it wrote to `keep` (a file, or a
    directory when it wrote several or into a directory) and leave the tree as it was."""
    c = ws.contract
    before = vcs.tree_hash(tree)
    _remove_outputs(tree, profiler.output_path)
    if not any(ch in profiler.output_path for ch in GLOB_CHARS):
        target = tree / profiler.output_path
        # a directory output (ends with /) must exist for tools like valgrind's %p files
        (target if profiler.output_path.endswith("/") else target.parent).mkdir(
            parents=True, exist_ok=True)
    values = secrets.load(c.secrets_file_path, ws.root, source=str(ws.contract_path))
    res = harness.run_shell(profiler.command, cwd=tree, env=secrets.environment(values),
                            timeout_s=c.repro.timeout_s * 5, redact=secrets.redactions(values),
                            ledger=ws.project.ledger_dir)
    failed = res.failure(f"the profiler ({profiler.tool}) `{profiler.command}`",
                         c.repro.timeout_s * 5)
    files = [] if failed else outputs(tree, profiler.output_path)
    single = len(files) == 1 and (tree / profiler.output_path).is_file()
    try:
        if failed:
            raise MeasurementError(failed)
        if not files:
            raise MeasurementError(f"the profiler ({profiler.tool}) exited 0 but wrote nothing at "
                                   f"{profiler.output_path}")
        if keep.is_dir():
            shutil.rmtree(keep)
        keep.parent.mkdir(parents=True, exist_ok=True)
        if single:
            keep = keep.with_name(f"{keep.name}-{files[0].name}")
            keep.unlink(missing_ok=True)
            shutil.copyfile(files[0], keep)
        else:
            keep.mkdir(parents=True, exist_ok=True)
            for f in files:
                shutil.copyfile(f, keep / f.name)
    finally:
        _remove_outputs(tree, profiler.output_path)   # a profile is not part of the candidate
        after = vcs.tree_hash(tree)
        if after != before:
            paths = vcs.changed_paths(tree, before, after)
            vcs.reset(tree, vcs.head(tree))
            raise MeasurementError(
                f"the profiler ({profiler.tool}) wrote files where git looks "
                f"({', '.join(paths[:5])}); write them to an ignored path such as .perfgate/ "
                "(the tree was reset)")
    return keep


def run(ws: Workspace, *, progress=None) -> Artifact:
    c = ws.contract
    state = approval.require(ws)
    work = clean_work_tree(ws, state)
    try:
        prepare.ensure(ws, work)
    except prepare.SetupFailed as exc:
        raise MeasurementError(f"profiling {state.head[:12]} in {ws.display(work)}: {exc}") \
            from None
    if c.suite is not None:  # profile the benchmark the loop works on
        from perfgate.suites import focus

        names = focus.targets(c, ws.project.store(), state.baseline_session)
        target = names[0] if names else None
        profiler = c.profiler or recommended(ws, work, focus.script(c, target))
        profiler = profiler.model_copy(update={"command": focus.fill(profiler.command, c,
                                                                     target)})
    else:
        profiler = c.profiler or recommended(ws, work)
    keep = capture(ws, work, profiler, ws.dir / "profiles" / f"{state.iteration + 1}")
    state.status = Status.PROFILING
    state_mod.write(ws.state_path, state)
    meta = {"epoch": state.epoch, "result": "done", "contract": ws.name,
            "commit": vcs.head(work), "profile": ws.display(keep), "tool": profiler.tool}
    body = (f"# Profiling: {ws.name}\n\n- tool: {profiler.tool}\n- command: "
            f"`{profiler.command}`\n- code: `{meta['commit']}`\n- profile: `{meta['profile']}`\n")
    art = Artifact(meta, body)
    artifacts.write_artifact(ws.artifact("profiling"), art)
    return art


def recommendation(ws: Workspace, tree: Path, script: str | None = None):
    """The stack's profiler for the repro (a suite: its first target benchmark's command)."""
    from perfgate import recon, stacks

    c = ws.contract
    if script is None and c.suite is not None:
        from perfgate.suites import focus

        script = focus.script(c, next(iter(focus.targets(c)), None))
    return stacks.recommend(recon.detect(tree), c.domain, script or c.repro.script or "",
                            f".perfgate/{ws.name}", root=tree)


def recommended(ws: Workspace, tree: Path, script: str | None = None) -> Profiler:
    """No profiler in the contract: the recommendation for this stack, if it runs unattended."""
    rec = recommendation(ws, tree, script)
    if not rec.runnable:
        raise UsageError(f"{ws.display(ws.contract_path)}: profiler: required here; the "
                         f"recommendation for this stack ({rec.tool}) is not a command perfgate "
                         f"can run for you: {rec.note}")
    return Profiler(tool=rec.tool, command=rec.command, output_path=rec.output_path)


@dataclass(frozen=True)
class Check:
    """Scoping's test of the profiler: it ran once, its output parsed, it named project code."""

    tool: str
    command: str
    passed: bool
    message: str
    required: bool         # named by the contract: a failure fails the pre-flight


def check(ws: Workspace, tree: Path) -> Check:
    """Run the contract's profiler (or the recommended one) once in `tree` and rank its profile,
    so the loop never finds out later that it cannot profile."""
    from perfgate import extents, hotspots, profiles

    c = ws.contract
    rec = None if c.profiler else recommendation(ws, tree)
    if rec is not None and not rec.runnable:
        return Check(rec.tool, rec.command, False, f"no profiler perfgate can run here: "
                     f"{rec.note}; `perfgate run` needs `profiler:` in the contract (gate and "
                     "compare do not)", False)
    profiler = c.profiler or Profiler(tool=rec.tool, command=rec.command,
                                      output_path=rec.output_path)
    hint = (f"fix profiler: in {ws.display(ws.contract_path)}" if c.profiler else
            f"set profiler: in {ws.display(ws.contract_path)} before `perfgate run`")
    try:
        kept = capture(ws, tree, profiler, ws.dir / "profiles" / "scoping")
        spots = hotspots.rank(profiles.load(kept), tree, min_share=c.loop.min_share_pct / 100)
    except PerfgateError as exc:
        return Check(profiler.tool, profiler.command, False, f"{exc}; {hint}", bool(c.profiler))
    notes = "".join(f"; note: {n}" for n in extents.notes())
    if not spots:
        return Check(profiler.tool, profiler.command, False,
                     f"the profile ({ws.display(kept)}) names no function of the project "
                     f"at {c.loop.min_share_pct:g}% or more: the loop would have nothing to "
                     f"propose{notes}; {hint}", bool(c.profiler))
    top = spots[0]
    return Check(profiler.tool, profiler.command, True,
                 f"{profiler.tool} ran and its profile parsed: {len(spots)} hotspot(s), first "
                 f"`{top.function}` in {top.file}:{top.line_start}-{top.line_end} "
                 f"({top.self_share * 100:.0f}%){notes}", bool(c.profiler))
