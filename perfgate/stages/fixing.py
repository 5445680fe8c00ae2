"""Stage 5, fixing: put a candidate change into the perfgate work tree (from a fixer or the user)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from perfgate import approval, vcs
from perfgate import state as state_mod
from perfgate.errors import UsageError
from perfgate.state import State, Status
from perfgate.workspace import Workspace


class FixResult(StrEnum):
    DONE = "done"              # the work tree holds a change: measure it
    NO_CHANGE = "no change"    # the fixer left the tree as it was
    FAILED = "failed"          # the fixer exited non-zero or timed out
    NONE = "none"              # no untried hotspot is left


@dataclass(frozen=True)
class FixOutcome:
    result: FixResult
    hotspot: str | None = None
    reason: str = ""


def take_checkout(ws: Workspace) -> str:
    """`gate --from-checkout`: copy the user's uncommitted changes into the work tree.

    The user's files, index and HEAD are only read. Returns the candidate's tree hash.
    """
    state = approval.require(ws)
    root = vcs.repo_root(ws.root)
    work = vcs.ensure_worktree(root, ws.work_tree, state.head, branch=ws.branch)
    pending = vcs.dirty(work)
    if pending:
        raise UsageError(f"{ws.display(work)} already holds an ungated change ({len(pending)} "
                         f"file(s)); gate it first with `perfgate gate {ws.handle}`")
    before = vcs.tree_hash(work)
    vcs.copy_changes(root, work)
    after = vcs.tree_hash(work)
    if after == before:
        raise UsageError(f"--from-checkout: {root} has no uncommitted changes to gate")
    return after


def next_hotspot(ws: Workspace, state: State) -> dict | None:
    """The best-ranked hotspot of the current hotspots.json not tried in this run."""
    import json

    try:
        doc = json.loads((ws.dir / "hotspots.json").read_text())
    except (OSError, ValueError):
        return None
    tried = state.tried_hotspots()
    return next((h for h in doc.get("hotspots", []) if h["key"] not in tried), None)


def _suite_goal(ws: Workspace, state: State) -> str:
    from perfgate.suites import focus

    c = ws.contract
    return focus.goal(c, focus.targets(c, ws.project.store(), state.baseline_session))


def brief(ws: Workspace, spot: dict, state: State) -> str:
    """What the fixer is told: the goal, the hotspot and its code, the rules, what failed."""
    from perfgate import hotspots, report
    from perfgate.hotspots import Hotspot

    c = ws.contract
    p = c.metrics.primary
    spot_obj = Hotspot(**{k: spot[k] for k in ("file", "line_start", "line_end", "function",
                                                "self_share", "inclusive_share", "calls")})
    code = hotspots.excerpt(ws.work_tree, spot_obj)
    t = c.threshold
    need = report.threshold_text({"type": t.type, "pct_min": t.pct_min,
                                  "absolute_min": t.absolute_min,
                                  "significance_required": t.significance_required},
                                 p.unit, c.significance.alpha)
    lines = [f"# Fixing brief: {c.name}, iteration {state.iteration + 1}", "",
             "## Goal", "",
             (_suite_goal(ws, state) if c.suite is not None else
              f"Make `{c.repro.script}` faster") + f": {p.name} ({p.unit}, "
             f"{'lower' if p.lower_is_better else 'higher'} is better) must be {need}, "
             "with no watchdog regressing" +
             (": " + ", ".join(f"{w.name} by more than {w.max_regression_pct:g}%"
                               for w in c.metrics.watchdogs) if c.metrics.watchdogs else "") + ".",
             "", "## Hotspot", "",
             f"`{spot['function']}` in `{spot['file']}` lines {spot['line_start']}–"
             f"{spot['line_end']}: {spot['self_share'] * 100:.1f}% of the profile "
             f"(inclusive {spot['inclusive_share'] * 100:.1f}%"
             + (f", {spot['calls']} calls" if spot.get("calls") else "") + ").", "",
             "```", code, "```", "", "## Rules", "",
             f"- Edit files in `{ws.work_tree}` only; do not commit, perfgate does.",
             f"- It must stay correct: `{c.verify}` must pass." if c.verify else
             "- Keep the program's output identical.",
             "- Changes that are not faster by the threshold are archived and reverted.", ""]
    tried = [t for t in state.tried if t.verdict != "accepted"]
    if tried:
        lines += ["## Already tried", ""]
        lines += [f"- `{t.name}`: {t.verdict}" + (f" — {t.reason}" if t.reason else "")
                  for t in tried]
        lines.append("")
    return "\n".join(lines)


def run_fixer(ws: Workspace, fixer: str, spot: dict, brief_path, *, timeout_s: float) -> str:
    """Run the fixer command in the work tree; placeholders become separate arguments."""
    import json
    import os
    import shlex

    from perfgate import harness

    hotspot_json = json.dumps(spot)
    values = {"{brief}": str(brief_path), "{hotspot_json}": hotspot_json,
              "{worktree}": str(ws.work_tree)}
    try:
        argv = shlex.split(fixer)
    except ValueError as exc:
        raise UsageError(f"--fixer: cannot split the command ({exc})") from None
    if not argv:
        raise UsageError("--fixer: empty command")
    # Substitution happens inside each argument after splitting: the fixer's own text and the
    # hotspot's names never pass through a shell.
    for key, value in values.items():
        argv = [a.replace(key, value) for a in argv]
    env = {**os.environ, "PERFGATE_BRIEF": str(brief_path), "PERFGATE_HOTSPOT_JSON": hotspot_json,
           "PERFGATE_WORKTREE": str(ws.work_tree), "PERFGATE_CONTRACT": ws.name}
    res = harness.call(argv, cwd=ws.work_tree, env=env, timeout_s=timeout_s)
    return res.failure("the fixer", timeout_s) or ""


def run(ws: Workspace, *, fixer: str | None = None, manual=None,
        progress=None) -> FixOutcome:
    """Brief the fixer on the next hotspot and let it edit the work tree."""
    from perfgate import artifacts
    from perfgate.artifacts import Artifact
    from perfgate.stages import profiling

    state = approval.require(ws)
    spot = next_hotspot(ws, state)
    if spot is None:
        return FixOutcome(FixResult.NONE)
    work = profiling.clean_work_tree(ws, state)
    text = brief(ws, spot, state)
    brief_path = ws.dir / "brief.md"
    artifacts.write_atomic(brief_path, text)
    before = vcs.tree_hash(work)
    state.status = Status.FIXING
    state.hotspot = spot["key"]
    state_mod.write(ws.state_path, state)
    if fixer is None or fixer == "manual":
        if manual is None:
            raise UsageError("fixing needs a fixer: `perfgate run NAME --fixer CMD` (or manual)")
        manual(text, work)
        failure = ""
    else:
        failure = run_fixer(ws, fixer, spot, brief_path, timeout_s=ws.contract.loop.fixer_timeout_s)
    after = vcs.tree_hash(work)
    result = (FixResult.FAILED if failure else
              FixResult.NO_CHANGE if after == before else FixResult.DONE)
    diff = vcs.diff(work, vcs.head(work)).decode("utf-8", errors="replace") if after != before else ""
    meta = {"epoch": state.epoch, "result": result.value, "contract": ws.name,
            "hotspot": spot["key"],
            "fixer": fixer or "manual", "candidate_tree": after}
    body = text + "\n## What the fixer changed\n\n" + (
        f"```diff\n{diff[:20000]}\n```\n" if diff else "Nothing.\n")
    if failure:
        body += f"\n**{failure}**\n"
    artifacts.write_artifact(ws.artifact("fixing"), Artifact(meta, body))
    return FixOutcome(result, spot["key"], failure)
