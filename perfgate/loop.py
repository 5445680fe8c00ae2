"""`perfgate run`: profile → propose → fix → measure → gate, until the hotspots or budget run out."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from perfgate import artifacts, report, vcs
from perfgate.errors import PerfgateError
from perfgate.stages import scoping
from perfgate.workspace import Workspace


def _stage(ws: Workspace, stage: str, **options: Any) -> Any:
    """One stage through doit, in-process; returns what the stage returned."""
    from perfgate import tasks

    code = tasks.run(ws.root, ["run", f"{stage}:{ws.contract_path.stem}"], **options)
    if tasks.OUTCOME["error"] is not None:
        raise tasks.OUTCOME["error"]
    if code != 0:
        raise PerfgateError(f"doit {stage} failed with exit code {code}")
    return tasks.OUTCOME["results"].get(stage)


def _record(ws: Workspace, entry: dict) -> None:
    state = artifacts.read_state(ws.state_path, ws.name)
    state.tried.append(entry)
    state.extra.pop("hotspot", None)
    artifacts.write_state(ws.state_path, state)


def run(ws: Workspace, fixer: str, *, manual: Callable[[str, Any], None] | None = None,
        adaptive: bool | None = None) -> Iterator[str]:
    """Drive the loop from state.yaml; yields one line per step. Resumable after Ctrl-C."""
    c = ws.contract
    state = scoping.require_approved(ws)
    if not artifacts.current(artifacts.read_artifact(ws.artifact("baseline")), state) and \
            state.status in ("approved", "scoping"):
        _stage(ws, "baseline")
        yield f"baseline recorded ({ws.display(ws.artifact('baseline'))})"
    started = time.monotonic()
    need_profile = True
    while True:
        state = artifacts.read_state(ws.state_path, ws.name)
        accepts = sum(t.get("verdict") == "accepted" for t in state.tried)
        if state.iteration >= c.loop.max_iterations:
            yield f"stopping: {state.iteration} iterations (loop.max_iterations)"
            break
        if c.loop.max_accepts and accepts >= c.loop.max_accepts:
            yield f"stopping: {accepts} accepted (loop.max_accepts)"
            break
        if c.loop.time_budget_min and time.monotonic() - started > c.loop.time_budget_min * 60:
            yield f"stopping: time budget of {c.loop.time_budget_min:g} min used"
            break
        resuming = state.extra.get("hotspot") and vcs.dirty(ws.work_tree)
        if not resuming:
            if need_profile:
                _stage(ws, "profiling")
                art = _stage(ws, "proposing")
                need_profile = False
                yield f"profiled: {art.meta['hotspots']} hotspot(s) ≥ {c.loop.min_share_pct:g}%"
            out = _stage(ws, "fixing", fixer=fixer, manual=manual)
            if out["result"] == "none":
                yield "no untried hotspot left"
                break
            if out["result"] in ("no change", "failed"):
                if out["result"] == "failed":
                    _archive_failed(ws, out)
                _record(ws, {"hotspot": out["hotspot"], "verdict": out["result"],
                             "reason": out.get("reason") or "the fixer changed nothing"})
                yield f"{out['hotspot']}: {out['result']}" + (f" ({out['reason']})"
                                                                if out.get("reason") else "")
                continue
        hotspot = artifacts.read_state(ws.state_path, ws.name).extra.get("hotspot")
        # An inconclusive verdict is a rejection of this hotspot (archived, reset) with its
        # own reason: the change may be real but the machine could not show it.
        doc = _stage(ws, "gating", label=hotspot, adaptive=adaptive)
        yield (f"{hotspot}: {doc['verdict']}"
               + (f" ({doc['primary']['change_pct']:+.1f}%, p = {report.num(doc['primary']['p_value'], 3)})"
                  if doc.get("primary") and doc["primary"].get("change_pct") is not None else "")
               + ("" if doc["verdict"] == "accepted" else f" — {doc['reasons'][0]}"))
        need_profile = doc["verdict"] == "accepted"
    state = artifacts.read_state(ws.state_path, ws.name)
    state.status = "complete"
    state.epoch += 1
    artifacts.write_state(ws.state_path, state)
    yield from final_report(ws)


def _archive_failed(ws: Workspace, out: dict) -> None:
    """A failed fixer may have left half an edit: keep it as a patch, then reset."""
    state = artifacts.read_state(ws.state_path, ws.name)
    accepted = state.extra.get("accepted_commit") or state.base_commit
    if vcs.dirty(ws.work_tree):
        n = len(state.tried) + 1
        vcs.archive(ws.work_tree, base=accepted, patch_path=ws.dir / "rejected" /
                    f"{n}-fixer-failed.patch", ref=f"refs/perfgate/rejected/{ws.name}/f{n}",
                    message=f"perfgate({ws.name}): fixer failed on {out['hotspot']}\n")
        vcs.reset(ws.work_tree, accepted)


def final_report(ws: Workspace) -> Iterator[str]:
    """report.md: every iteration, the cumulative gain measured interleaved, what was kept."""
    from perfgate import compare

    state = artifacts.read_state(ws.state_path, ws.name)
    accepted = state.extra.get("accepted_commit")
    cumulative = None
    if accepted:
        cumulative = compare.compare(ws, state.base_commit, accepted, yes=True)
    rows = [[str(i), f"`{t.get('hotspot') or t.get('label')}`", t.get("verdict", ""),
             report.num(t.get("change_pct"), 3) + ("%" if t.get("change_pct") is not None else ""),
             report.num(t.get("p_value"), 3), t.get("commit", "")[:12] or t.get("patch") or
             t.get("reason", "")] for i, t in enumerate(state.tried, 1)]
    lines = [f"# Report: {ws.name}", "",
             report.markdown_table(("#", "hotspot", "verdict", "change", "p", "kept as"), rows), ""]
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
    rejected = [t["patch"] for t in state.tried if t.get("patch")]
    lines += ["## Rejected attempts (recoverable)", ""] + (
        [f"- `{p}`" for p in rejected] or ["- none"]) + [""]
    artifacts.write_atomic(ws.dir / "report.md", "\n".join(lines))
    yield from lines
    yield f"(written to {ws.display(ws.dir / 'report.md')})"

