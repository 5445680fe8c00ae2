"""`perfgate run`: profile → propose → fix → measure → gate, until the hotspots or budget run out."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from perfgate import approval, artifacts, report, shared, vcs
from perfgate import state as state_mod
from perfgate.pipeline import run_stage
from perfgate.stages.fixing import FixOutcome, FixResult
from perfgate.state import Attempt, Status
from perfgate.workspace import Workspace


def _record(ws: Workspace, attempt: Attempt) -> None:
    state = state_mod.read(ws.state_path, ws.name)
    state.tried.append(attempt)
    state.hotspot = None
    state_mod.write(ws.state_path, state)


def run(ws: Workspace, fixer: str, *, manual: Callable[[str, Any], None] | None = None,
        adaptive: bool | None = None) -> Iterator[str]:
    """Drive the loop from state.yaml; yields one line per step. Resumable after Ctrl-C."""
    c = ws.contract
    state = approval.require(ws)
    if not state.current(artifacts.read_artifact(ws.artifact("baseline"))) and \
            state.status in (Status.APPROVED, Status.SCOPING, Status.BASELINE):
        run_stage(ws, "baseline")
        yield f"baseline recorded ({ws.display(ws.artifact('baseline'))})"
    started = time.monotonic()
    need_profile = True
    while True:
        state = state_mod.read(ws.state_path, ws.name)
        accepts = state.accepts
        if state.iteration >= c.loop.max_iterations:
            yield f"stopping: {state.iteration} iterations (loop.max_iterations)"
            break
        if c.loop.max_accepts and accepts >= c.loop.max_accepts:
            yield f"stopping: {accepts} accepted (loop.max_accepts)"
            break
        if c.loop.time_budget_min and time.monotonic() - started > c.loop.time_budget_min * 60:
            yield f"stopping: time budget of {c.loop.time_budget_min:g} min used"
            break
        resuming = state.hotspot and vcs.dirty(ws.work_tree)
        if not resuming:
            if need_profile:
                run_stage(ws, "profiling")
                proposed = run_stage(ws, "proposing")
                need_profile = False
                yield (f"profiled: {proposed.extra['hotspots']} hotspot(s) ≥ "
                       f"{c.loop.min_share_pct:g}%")
            out: FixOutcome = run_stage(ws, "fixing", fixer=fixer, manual=manual).fix
            if out.result is FixResult.NONE:
                yield "no untried hotspot left"
                break
            if out.result in (FixResult.NO_CHANGE, FixResult.FAILED):
                patch = _archive_failed(ws, out) if out.result is FixResult.FAILED else None
                _record(ws, Attempt(out.result.value, hotspot=out.hotspot, patch=patch,
                                    reason=out.reason or "the fixer changed nothing"))
                yield f"{out.hotspot}: {out.result}" + (f" ({out.reason})" if out.reason else "")
                continue
        hotspot = state_mod.read(ws.state_path, ws.name).hotspot
        # An inconclusive verdict is a rejection of this hotspot (archived, reset) with its
        # own reason: the change may be real but the machine could not show it.
        doc = run_stage(ws, "gating", label=hotspot, adaptive=adaptive).document
        yield (f"{hotspot}: {doc['verdict']}"
               + (f" ({doc['primary']['change_pct']:+.1f}%, p = {report.num(doc['primary']['p_value'], 3)})"
                  if doc.get("primary") and doc["primary"].get("change_pct") is not None else "")
               + ("" if doc["verdict"] == "accepted" else f" — {doc['reasons'][0]}"))
        need_profile = doc["verdict"] == "accepted"
        pushed = shared.push_pending(ws.project)
        if pushed.message:
            yield pushed.message
    state = state_mod.read(ws.state_path, ws.name)
    state.status = Status.COMPLETE
    state.epoch += 1
    state_mod.write(ws.state_path, state)
    yield from final_report(ws)


def _archive_failed(ws: Workspace, out: FixOutcome) -> str | None:
    """A failed fixer may have left half an edit: keep it as a patch, then reset."""
    state = state_mod.read(ws.state_path, ws.name)
    if not vcs.dirty(ws.work_tree):
        return None
    n = len(state.tried) + 1
    patch = ws.dir / "rejected" / f"{n}-fixer-failed.patch"
    vcs.archive(ws.work_tree, base=state.head, patch_path=patch,
                ref=f"refs/perfgate/rejected/{ws.name}/f{n}",
                message=f"perfgate({ws.name}): fixer failed on {out.hotspot}\n")
    vcs.reset(ws.work_tree, state.head)
    return ws.display(patch)


def final_report(ws: Workspace) -> Iterator[str]:
    """report.md: every iteration, the cumulative gain measured interleaved, what was kept."""
    from perfgate import compare

    state = state_mod.read(ws.state_path, ws.name)
    accepted = state.accepted_commit
    cumulative = None
    if accepted:
        cumulative = compare.compare(ws, state.base_commit, accepted, yes=True)
    lines = [f"# Report: {ws.name}", "", report.attempts_table(state.tried), ""]
    if cumulative:
        p = cumulative["primary"]
        lines += ["## Cumulative gain", "",
                  f"{p['name']}: {report.num(p['baseline_median'])} → "
                  f"{report.num(p['candidate_median'])} {p['unit']} "
                  f"({p['change_pct']:+.1f}%, p = {report.num(p['p_value'], 3)}), measured "
                  f"interleaved: base `{state.base_commit[:12]}` against the last accepted "
                  f"commit `{accepted[:12]}` on branch `{ws.branch}`.", ""]
    else:
        lines += ["## Cumulative gain", "", "Nothing was accepted; the code is unchanged.", ""]
    rejected = [t.patch for t in state.tried if t.patch]
    lines += ["## Rejected attempts (recoverable)", ""] + (
        [f"- `{p}`" for p in rejected] or ["- none"]) + [""]
    artifacts.write_atomic(ws.dir / "report.md", "\n".join(lines))
    yield from lines
    yield f"(written to {ws.display(ws.dir / 'report.md')})"

