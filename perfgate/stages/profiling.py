"""Stage 3, profiling: run the contract's profiler on the current code, in the work tree."""
from __future__ import annotations

from pathlib import Path

from perfgate import approval, artifacts, harness, secrets, vcs
from perfgate import state as state_mod
from perfgate.artifacts import Artifact
from perfgate.errors import MeasurementError, UsageError
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


def run(ws: Workspace, *, progress=None) -> Artifact:
    c = ws.contract
    state = approval.require(ws)
    work = clean_work_tree(ws, state)
    if c.suite is not None:  # profile the benchmark the loop works on
        from perfgate.suites import focus

        names = focus.targets(c, ws.project.store(), state.baseline_session)
        target = names[0] if names else None
        profiler = c.profiler or _recommended(ws, work, focus.script(c, target))
        profiler = profiler.model_copy(update={"command": focus.fill(profiler.command, c,
                                                                     target)})
    else:
        profiler = c.profiler or _recommended(ws, work)
    out = work / profiler.output_path
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    values = secrets.load(c.secrets_file_path, ws.root, source=str(ws.contract_path))
    res = harness.run_shell(profiler.command, cwd=work, env=secrets.environment(values),
                            timeout_s=c.repro.timeout_s * 5, redact=secrets.redactions(values),
                            ledger=ws.project.ledger_dir)
    if res.timed_out or res.returncode != 0:
        tail = " | ".join(res.tail.strip().splitlines()[-3:])
        how = "timed out" if res.timed_out else f"exit {res.returncode}"
        raise MeasurementError(f"profiler failed ({how}): {tail}")
    if not out.exists():
        raise MeasurementError(f"the profiler exited 0 but wrote nothing at "
                               f"{profiler.output_path}")
    keep = ws.dir / "profiles" / f"{state.iteration + 1}-{out.name}"
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_bytes(out.read_bytes())
    out.unlink()  # the work tree must stay clean: a profile is not part of the candidate
    state.status = Status.PROFILING
    state_mod.write(ws.state_path, state)
    meta = {"epoch": state.epoch, "result": "done", "contract": ws.name,
            "commit": vcs.head(work), "profile": ws.display(keep), "tool": profiler.tool}
    body = (f"# Profiling: {ws.name}\n\n- tool: {profiler.tool}\n- command: "
            f"`{profiler.command}`\n- code: `{meta['commit']}`\n- profile: `{meta['profile']}`\n")
    art = Artifact(meta, body)
    artifacts.write_artifact(ws.artifact("profiling"), art)
    return art


def _recommended(ws: Workspace, work: Path, script: str | None = None):
    """No profiler in the contract: the recommendation for this stack, if it runs unattended."""
    from perfgate import recon
    from perfgate.contract import Profiler

    rec = recon.recommend(recon.detect(work), ws.contract.domain,
                          script or ws.contract.repro.script or "", f".perfgate/{ws.name}")
    if rec.command.startswith("#"):
        raise UsageError(f"{ws.display(ws.contract_path)}: profiler: required here; the "
                         f"recommendation for this stack ({rec.tool}) is not a command perfgate "
                         "can run for you")
    return Profiler(tool=rec.tool, command=rec.command, output_path=rec.output_path)
