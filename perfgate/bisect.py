"""`perfgate bisect`: the commit(s) between a good and a bad ref where the primary metric moved.

As Chromium's Pinpoint does, each step compares commits with their neighbours, not only with
the two ends, so a range holding two steps (a slowdown and a later partial fix) reports both.
A step measures its commits interleaved (A B C C B A ...), each in its own worktree under
.perfgate/<contract>/bisect/, and judges every adjacent pair with the gate's own rule asked
both ways (`shift.judge`). While a pair is unclear the step adds rounds, as an adaptive gate
does, up to the contract's cap; a pair still unclear there is reported, never decided.
A commit that cannot be prepared, fails verify or crashes the repro is skipped (as `git
bisect skip`) and named. Pairs already measured together (by an earlier or interrupted
bisection, or a `perfgate compare`) are judged from the store instead of measured again.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from perfgate import approval, artifacts, harness, secrets, sequential, shift, vcs
from perfgate import state as state_mod
from perfgate.culprits import Culprit, Judged, Outcome, Point
from perfgate.errors import RunFailed, UsageError
from perfgate.sessions import Executor, Recorder, Side
from perfgate.workspace import Workspace

STATE_VERSION = 1

# How a commit's worktree is made ready to measure: None, or why it cannot be (then it is
# skipped, as `git bisect skip` would).
Prepare = Callable[[Workspace, Path], "str | None"]


def prepare(ws: Workspace, worktree: Path) -> str | None:
    """The contract's set-up and build in the commit's worktree (perfgate.prepare, as for a
    gate's sides); a commit that fails to set up or build is skipped with the reason."""
    from perfgate import prepare as setup_and_build

    try:
        setup_and_build.ensure(ws, worktree)
    except setup_and_build.SetupFailed as exc:
        return str(exc)
    return None


class _TaggingRecorder(Recorder):
    """A Recorder that tags its sessions with the bisection step as soon as they open, so
    even an interrupted step's samples are found by bisection."""

    def __init__(self, *args: Any, tag: Callable[[Sequence[Side]], None], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._tag = tag

    def open(self, sides: Sequence[Side], fingerprint: dict) -> None:
        super().open(sides, fingerprint)
        self._tag(sides)


class Bisection:
    """One run of the search over good..bad (resumed if an earlier one was interrupted)."""

    def __init__(self, ws: Workspace, commits: list[str], *, adaptive: bool | None = None,
                 test: str | None = None, progress=None, log: Callable[[str], None] | None = None,
                 executor: Executor = harness.run_once, prepare_fn: Prepare = prepare) -> None:
        self.ws, self.c = ws, ws.contract
        self.judging = shift.for_bisection(self.c, test)     # how each pair is judged
        self.root = vcs.repo_root(ws.root)
        self.store = ws.project.store()
        self.metric = self.c.metrics.primary.name
        info = vcs.describe(self.root, commits)
        self.points = [Point(i, sha, info[sha]["subject"], info[sha]["author"])
                       for i, sha in enumerate(commits)]
        values = secrets.load(self.c.secrets_file_path, ws.root, source=str(ws.contract_path))
        self.env, self.redact = secrets.environment(values), secrets.redactions(values)
        # Two one-sided questions per pair (better? worse?): half the alpha each.
        self.looks = sequential.plan(
            self.c.repro.measurement_runs, self.c.repro.max_runs, self.c.significance.alpha / 2,
            adaptive=sequential.adaptive_enabled(self.c.significance.adaptive, adaptive),
            test=self.judging.significance.test)
        self.progress, self.log = progress, log or (lambda _: None)
        self.executor, self.prepare_fn = executor, prepare_fn
        self.dir = ws.dir / "bisect"
        self.judged: list[Judged] = []
        self.verifies = 0
        digest, good, bad = self.c.digest(), commits[0], commits[-1]
        found = self.store.unfinished_bisection(self.c.name, digest, good, bad)
        if found is not None:
            self.id = found["id"]
            self._load_state()
        else:
            self.id = self.store.begin_bisection(
                contract=self.c.name, contract_digest=digest, metric=self.metric, good_sha=good,
                bad_sha=bad, commits=len(commits))
        self.step = self.store.last_bisection_step(self.id)

    # -- commits ---------------------------------------------------------------------------

    def worktree(self, pt: Point) -> Path:
        return self.dir / pt.sha[:12]

    def _ready(self, pos: int) -> bool:
        """Check out, prepare and verify a commit once; a failure skips it for good."""
        pt = self.points[pos]
        if pt.skipped:
            return False
        if pt.tree:
            return True
        from perfgate.stages import measuring

        wt = vcs.ensure_worktree(self.root, self.worktree(pt), pt.sha)
        problem = self.prepare_fn(self.ws, wt)
        if problem is None and self.c.verify:
            self.verifies += 1
            problem = measuring.verify(self.ws, wt, self.env, self.redact)
        if problem:
            self._skip(pos, problem)
            return False
        pt.tree = vcs.tree_hash(wt)
        return True

    def _skip(self, pos: int, reason: str) -> None:
        pt = self.points[pos]
        pt.skipped = reason
        self.log(f"skipping {pt.sha[:12]} ({pos}/{len(self.points) - 1}): {reason}")
        self._save_state()

    def _state_path(self) -> Path:
        return self.dir / "state.json"

    def _save_state(self) -> None:
        skipped = {p.sha: p.skipped for p in self.points if p.skipped}
        artifacts.write_atomic(self._state_path(), json.dumps(
            {"version": STATE_VERSION, "bisection": self.id, "skipped": skipped}, indent=1))

    def _load_state(self) -> None:
        try:
            data = json.loads(self._state_path().read_text())
        except (OSError, ValueError):
            return
        if data.get("version") != STATE_VERSION or data.get("bisection") != self.id:
            return
        for pt in self.points:
            pt.skipped = data.get("skipped", {}).get(pt.sha)

    def _pick(self, lo: int, hi: int) -> int | None:
        """The measurable commit strictly inside lo..hi nearest the middle (git bisect's skip
        moves to a neighbour too); None when there is none."""
        inside = [p for p in range(lo + 1, hi) if not self.points[p].skipped]
        return min(inside, key=lambda p: (abs(2 * p - lo - hi), p)) if inside else None

    def _end(self, pos: int, outward: int, first: bool) -> int | None:
        """A skipped end of a bracket moves outward (the move may sit at the skipped commit
        itself), or inward when it is good or bad; None when no commit is left."""
        n = len(self.points)
        for direction in ((-outward,) if first else (outward, -outward)):
            p = pos
            while 0 <= p < n and self.points[p].skipped:
                p += direction
            if 0 <= p < n:
                return p
        return None

    # -- measuring -------------------------------------------------------------------------

    def _stored(self, a: int, b: int) -> Judged | None:
        """A judgement from sessions of these two trees measured together before, if they
        already decide it (or reached the cap)."""
        pa, pb = self.points[a], self.points[b]
        found = self.store.measured_together(self.c.digest(), pa.tree, pb.tree)
        if found is None:
            return None
        values = self.store.values(found, [self.metric])
        va, vb = values[found[0]][self.metric], values[found[1]][self.metric]
        fitting = [look for look in self.looks if look.runs <= min(len(va), len(vb))]
        if not fitting:
            return None
        judged = shift.judge(va, vb, self.judging, fitting[-1])
        if judged.state == "unclear" and not fitting[-1].final:
            return None
        return Judged(a, b, judged, None, found, reused=True)

    def _measure(self, pairs: list[tuple[int, int]], info: list[tuple[int, int]]
                 ) -> dict[tuple[int, int], Judged] | None:
        """One step: the pairs' commits measured interleaved, with rounds while any pair is
        unclear. None when a commit had to be skipped (the caller plans again)."""
        positions = sorted({p for pair in pairs for p in pair})
        if not all(self._ready(p) for p in positions):
            return None
        out: dict[tuple[int, int], Judged] = {}
        for a, b in pairs:
            stored = self._stored(a, b)
            if stored is not None:
                out[(a, b)] = stored
        todo = [pair for pair in pairs if pair not in out]
        if todo:
            measured = self._measure_step(todo, info)
            if measured is None:
                return None
            out.update(measured)
        for j in out.values():
            for pos, sid in zip((j.before, j.after), j.sessions, strict=True):
                if sid not in self.points[pos].sessions:
                    self.points[pos].sessions.append(sid)
        return out

    def _measure_step(self, pairs: list[tuple[int, int]], info: list[tuple[int, int]]
                      ) -> dict[tuple[int, int], Judged] | None:
        positions = sorted({p for pair in pairs for p in pair})
        sides = {p: Side(self.points[p].sha[:12], "bisect", self.worktree(self.points[p]),
                         self.points[p].sha, self.points[p].tree) for p in positions}
        self.step += 1
        step, c, m = self.step, self.c, self.metric
        self.log(f"step {step}: " + ", ".join(
            f"{self.points[p].sha[:12]} ({p}/{len(self.points) - 1})" for p in positions))
        reached = [self.looks[0]]

        def more(done: int) -> int:
            look = reached[-1]
            if look.final or all(shift.judge(sides[a].values(m), sides[b].values(m), self.judging,
                                             look).state != "unclear" for a, b in pairs):
                return 0
            reached.append(self.looks[look.number])
            return reached[-1].runs - done

        def tag(opened: Sequence[Side]) -> None:
            at = {id(s): p for p, s in sides.items()}
            self.store.tag_bisection(self.id, step, [(s.session_id, s.commit, at[id(s)])
                                                     for s in opened])

        rec = _TaggingRecorder(self.store, c, self.env, redact=self.redact,
                               progress=self.progress, executor=self.executor, tag=tag)
        try:
            rec.measure([sides[p] for p in positions], warmup=c.repro.warmup_runs,
                        runs=c.repro.measurement_runs, more=more)
        except RunFailed:
            for p, side in sides.items():
                if side.problems:
                    self._skip(p, side.problems[-1])
            return None
        ids = [sides[p].session_id for p in positions]
        values = self.store.values(ids, [m])
        out = {}
        for a, b in [*pairs, *[pair for pair in info if set(pair) <= set(positions)]]:
            sa, sb = sides[a].session_id, sides[b].session_id
            out[(a, b)] = Judged(a, b, shift.judge(values[sa][m], values[sb][m], self.judging,
                                                   reached[-1]),
                                 step, (sa, sb))
        return out

    # -- the search ------------------------------------------------------------------------

    def run(self) -> Outcome:
        """Bisect every bracket whose ends moved until each move sits between two adjacent
        measurable commits. A half that stays unclear is followed only when its bracket moved
        and the other half is the same (the move can be nowhere else); otherwise it is
        reported, never split further."""
        last = len(self.points) - 1
        todo: list[tuple[int, int, Judged | None]] = [(0, last, None)]
        culprits: list[Culprit] = []
        unclear: list[Judged] = []
        overall: Judged | None = None
        inferred: set[tuple[int, int]] = set()     # unclear, but where the move must be
        first = True
        while todo:
            brackets = []
            for lo, hi, judged in todo:
                new_lo, new_hi = self._end(lo, -1, first), self._end(hi, +1, first)
                if new_lo is None or new_hi is None or new_lo >= new_hi:
                    continue
                moved = (new_lo, new_hi) != (lo, hi)
                brackets.append((new_lo, new_hi, None if moved else judged))
            if first and not brackets:
                self._all_failed()
            plans: list[tuple[int, int | None, int, Judged | None]] = []
            for lo, hi, judged in brackets:
                mid = self._pick(lo, hi)
                if mid is None and judged is not None:
                    if judged.shift.state == "moved":
                        culprits.append(Culprit(lo, hi, judged))
                    else:       # followed here as the only place left, but still unclear
                        unclear.append(judged)
                else:
                    plans.append((lo, mid, hi, judged))
            pairs = [pair for lo, mid, hi, _ in plans
                     for pair in ([(lo, hi)] if mid is None else [(lo, mid), (mid, hi)])]
            if not pairs:
                break
            info = [(plans[0][0], plans[0][2])] if first and plans[0][1] is not None else []
            results = self._measure(pairs, info)
            if results is None:
                todo = brackets          # a commit was skipped: plan this step again
                continue
            if first:
                overall = results.get((plans[0][0], plans[0][2]))
            self.judged += [results[pair] for pair in pairs]
            todo = []
            for lo, mid, hi, parent in plans:
                if mid is None:
                    halves = [(results[(lo, hi)], None)]
                else:
                    left, right = results[(lo, mid)], results[(mid, hi)]
                    halves = [(left, right), (right, left)]
                known = parent or (overall if first else None)
                parent_moved = (known is not None and known.shift.state == "moved") or \
                    (lo, hi) in inferred
                for half, other in halves:
                    if half.shift.state == "moved":
                        todo.append((half.before, half.after, half))
                    elif half.shift.state == "unclear":
                        if parent_moved and other is not None and other.shift.state == "same":
                            todo.append((half.before, half.after, half))
                            inferred.add((half.before, half.after))
                        else:
                            unclear.append(half)
            first = False
        culprits.sort(key=lambda k: k.after)
        result = "found" if culprits else ("inconclusive" if unclear else "no change")
        return Outcome(result, self.points, culprits, unclear, self.judged, overall, self.id,
                       self.step, self.verifies)

    def _all_failed(self) -> None:
        reasons = [p.skipped for p in self.points if p.skipped]
        raise UsageError(
            f"bisect: no two commits of {self.points[0].sha[:12]}..{self.points[-1].sha[:12]} "
            f"could be measured ({len(reasons)} of {len(self.points)} failed; the first: "
            f"{reasons[0] if reasons else 'unknown'})")

    def cleanup(self) -> None:
        """The worktrees go once the bisection is written down; the store keeps the samples."""
        for pt in self.points:
            if self.worktree(pt).exists():
                vcs.remove_worktree(self.root, self.worktree(pt))
        self._state_path().unlink(missing_ok=True)


def bisect(ws: Workspace, good_ref: str, bad_ref: str, *, yes: bool = False,
           adaptive: bool | None = None, test: str | None = None, progress=None, log=None,
           executor: Executor = harness.run_once, prepare_fn: Prepare = prepare
           ) -> dict[str, Any]:
    """Run (or resume) the bisection of good..bad; write bisect.md, bisect.json and
    bisect.png under .perfgate/<contract>/bisect/; return the document."""
    from perfgate import findings

    state = state_mod.read(ws.state_path, ws.name) if yes else approval.require(ws)
    root = vcs.repo_root(ws.root)
    good, bad = vcs.resolve(root, good_ref), vcs.resolve(root, bad_ref)
    commits = vcs.first_parent_range(root, good, bad)
    b = Bisection(ws, commits, adaptive=adaptive, test=test, progress=progress, log=log,
                  executor=executor, prepare_fn=prepare_fn)
    outcome = b.run()
    measured, warmups = b.store.bisection_runs(b.id)
    doc = findings.bisect_document(ws, outcome, good_ref=good_ref, bad_ref=bad_ref,
                                   values=_point_values(b, outcome), runs=(measured, warmups),
                                   contract=b.judging)
    b.store.finish_bisection(b.id, outcome.result, doc)
    out = b.dir
    png = _plot(ws, doc, out / "bisect.png")
    artifacts.write_atomic(out / "bisect.json", json.dumps(doc, indent=2) + "\n")
    artifacts.write_artifact(out / "bisect.md", findings.bisect_markdown(
        doc, epoch=state.epoch, plot=png.name if png else None))
    b.cleanup()
    return doc


def _point_values(b: Bisection, outcome: Outcome) -> dict[int, list[float]]:
    """Every sample of each measured commit (all its sessions in this bisection, pooled)."""
    ids = sorted({sid for pt in outcome.points for sid in pt.sessions})
    values = b.store.values(ids, [b.metric]) if ids else {}
    return {pt.position: [v for sid in pt.sessions for v in values[sid][b.metric]]
            for pt in outcome.points if pt.sessions}


def _plot(ws: Workspace, doc: dict[str, Any], path: Path) -> Path | None:
    from perfgate import plot

    if not doc["points"]:
        return None
    return plot.along_commits(doc, path, title=f"{ws.name}: bisect "
                              f"{doc['good']['commit'][:8]}..{doc['bad']['commit'][:8]}")
