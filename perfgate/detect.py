"""`perfgate detect`: change points in a contract's history on a branch, one point per commit.

A commit's point is the median of every stored sample of the primary metric from sessions
of that commit's own tree (a loop candidate records the work tree's HEAD as its commit but
measures edited code, so its session is not the commit's). `--measure` measures the commits
that have none, each in its own worktree, in interleaved groups whose members are spread
over the history, so a drift of the machine while measuring does not line up with the
commits' order and pass for a change. The series goes to E-Divisive means
(`changepoints.e_divisive`); each change is then described with the medians of the
segments on either side and checked against the contract's threshold.
"""
from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

from perfgate import approval, artifacts, changepoints, harness, secrets, vcs
from perfgate import state as state_mod
from perfgate.change import change_pct, clears
from perfgate.errors import RunFailed, UsageError
from perfgate.sessions import Executor, Recorder, Side
from perfgate.workspace import Workspace

DOCUMENT_VERSION = 1
GROUP = 8           # commits measured interleaved at once by --measure
MIN_POINTS = 4


def series(ws: Workspace, commits: list[str], info: dict[str, dict[str, str]]
           ) -> dict[str, list[float]]:
    """commit -> its stored samples of the primary metric (its own tree's sessions only)."""
    rows = ws.project.store().commit_samples(ws.name, ws.contract.metrics.primary.name, commits)
    out: dict[str, list[float]] = {}
    for sha, tree, _session, value in rows:
        if tree == info[sha]["tree"]:
            out.setdefault(sha, []).append(value)
    return out


def measure_missing(ws: Workspace, missing: list[str], *, progress=None,
                    log: Callable[[str], None] | None = None,
                    executor: Executor = harness.run_once) -> dict[str, str]:
    """Measure commits without a point; returns those that could not be measured, and why."""
    from perfgate.stages import measuring

    log = log or (lambda _: None)
    c, root = ws.contract, vcs.repo_root(ws.root)
    values = secrets.load(c.secrets_file_path, ws.root, source=str(ws.contract_path))
    env, redact = secrets.environment(values), secrets.redactions(values)
    store, failed = ws.project.store(), {}
    groups = max(1, -(-len(missing) // GROUP))
    for g in range(groups):
        batch = missing[g::groups]          # spread over the history, not a run of neighbours
        sides = []
        for sha in batch:
            wt = vcs.ensure_worktree(root, ws.dir / "detect" / sha[:12], sha)
            problem = measuring.verify(ws, wt, env, redact)
            if problem:
                failed[sha] = problem
                continue
            sides.append(Side(sha[:12], "measure", wt, sha, vcs.tree_hash(wt)))
        while sides:
            log(f"measuring {len(sides)} commits: " + ", ".join(s.label for s in sides))
            try:
                Recorder(store, c, env, redact=redact, progress=progress,
                         executor=executor).measure(sides, warmup=c.repro.warmup_runs,
                                                    runs=c.repro.measurement_runs)
                break
            except RunFailed:
                bad = [s for s in sides if s.problems]
                if not bad:
                    raise
                for s in bad:
                    failed[s.commit] = s.problems[-1]
                sides = [Side(s.label, s.role, s.cwd, s.commit, s.tree) for s in sides
                         if s not in bad]
        for sha in batch:
            vcs.remove_worktree(root, ws.dir / "detect" / sha[:12])
    return failed


def detect(ws: Workspace, *, ref: str = "HEAD", last: int = 100, measure: bool = False,
           alpha: float = changepoints.ALPHA, permutations: int = changepoints.PERMUTATIONS,
           yes: bool = False, progress=None, log=None,
           executor: Executor = harness.run_once) -> dict[str, Any]:
    """Find the change points; write detect.md and detect.json; return the document."""
    c = ws.contract
    state = state_mod.read(ws.state_path, ws.name) if yes or not measure else \
        approval.require(ws)
    root = vcs.repo_root(ws.root)
    commits = vcs.history_line(root, vcs.resolve(root, ref), last)
    info = vcs.describe(root, commits)
    found = series(ws, commits, info)
    failed: dict[str, str] = {}
    if measure:
        missing = [sha for sha in commits if sha not in found]
        if missing:
            failed = measure_missing(ws, missing, progress=progress, log=log, executor=executor)
            found = series(ws, commits, info)
    points = [{"commit": sha, "position": i, "subject": info[sha]["subject"],
               "author": info[sha]["author"], "n": len(found[sha]),
               "median": statistics.median(found[sha])}
              for i, sha in enumerate(commits) if sha in found]
    if len(points) < MIN_POINTS:
        raise UsageError(f"detect: only {len(points)} of the last {len(commits)} commits of "
                         f"{ref} have complete sessions of {c.name}; at least {MIN_POINTS} "
                         "are needed (measure them with --measure)")
    medians = [p["median"] for p in points]
    cps = changepoints.e_divisive(medians, alpha=alpha, permutations=permutations)
    changes = [_describe(c, points, cps, k) for k in range(len(cps))]
    doc = {"version": DOCUMENT_VERSION, "contract": c.name, "ref": ref,
           "metric": {"name": c.metrics.primary.name, "unit": c.metrics.primary.unit,
                      "lower_is_better": c.metrics.primary.lower_is_better},
           "threshold": {"type": c.threshold.type, "pct_min": c.threshold.pct_min,
                         "absolute_min": c.threshold.absolute_min},
           "method": {"name": "E-Divisive means", "test": "permutation", "alpha": alpha,
                      "permutations": permutations},
           "commits": len(commits), "points": points, "changes": changes,
           "regressions": sum(1 for ch in changes if ch["regression"]),
           "unmeasurable": [{"commit": sha, "reason": why} for sha, why in failed.items()]}
    from perfgate import findings

    artifacts.write_atomic(ws.dir / "detect.json", json.dumps(doc, indent=2) + "\n")
    artifacts.write_artifact(ws.artifact("detect"), findings.detect_markdown(doc,
                                                                             epoch=state.epoch))
    return doc


def _describe(c, points: list[dict[str, Any]], cps: list[changepoints.ChangePoint],
              k: int) -> dict[str, Any]:
    """Change k: the segments on either side (up to the neighbouring changes), their medians,
    the change in the gate's convention (positive is better), and whether it is a regression
    beyond the threshold."""
    prim = c.metrics.primary
    start = cps[k - 1].index if k > 0 else 0
    end = cps[k + 1].index if k + 1 < len(cps) else len(points)
    i = cps[k].index
    before = statistics.median(p["median"] for p in points[start:i])
    after = statistics.median(p["median"] for p in points[i:end])
    change = change_pct(before, after, prim.lower_is_better)
    worse_abs = (after - before) if prim.lower_is_better else (before - after)
    regression = change is not None and clears(c.threshold, -change, worse_abs)
    prev, cur = points[i - 1], points[i]
    return {"number": k + 1, "commit": cur["commit"], "subject": cur["subject"],
            "author": cur["author"], "position": cur["position"],
            "previous": prev["commit"], "unmeasured_between": cur["position"] -
            prev["position"] - 1, "before_median": before, "after_median": after,
            "change_pct": change, "p_value": cps[k].p_value, "regression": regression,
            "points_before": i - start, "points_after": end - i}


def change_range(ws: Workspace, number: int) -> tuple[str, str]:
    """(good, bad) for `perfgate bisect --from-change N`: the measured commits around change
    N of the last detection."""
    path = ws.dir / "detect.json"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"--from-change: no detection of {ws.name} yet: run "
                         f"`perfgate detect {ws.handle}` first") from None
    except ValueError:
        raise UsageError(f"{ws.display(path)}: not valid JSON; run `perfgate detect "
                         f"{ws.handle}` again") from None
    if doc.get("version") != DOCUMENT_VERSION:
        raise UsageError(f"{ws.display(path)}: version {doc.get('version')!r} is not "
                         f"{DOCUMENT_VERSION}; run `perfgate detect {ws.handle}` again")
    changes = doc.get("changes") or []
    if not 1 <= number <= len(changes):
        raise UsageError(f"--from-change: the last detection of {ws.name} found "
                         f"{len(changes)} change{'s' if len(changes) != 1 else ''}, "
                         f"there is no change {number}")
    ch = changes[number - 1]
    return ch["previous"], ch["commit"]
