"""The bisection's search against a fake executor: exhaustive logic in milliseconds per run.

The git history, worktrees, store, sessions, steps, `shift.judge` (the gate's `decide` both
ways) and the looks are real; only the timed runs are fake (the gate loop's executor seam),
with the value of each commit's run prepared by the test. test_bisect.py runs real processes.
"""
from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from perfgate import bisect, harness
from perfgate.errors import Interrupted, UsageError
from perfgate.workspace import Project
from tests import history
from tests.test_gate_loop import record


class Timings:
    """A fake executor: the run's value is level[position of the commit in cwd] × noise."""

    def __init__(self, shas: list[str], levels: list[float], *, cv: float = 0.01,
                 crash: set[int] = frozenset(), seed: int = 1) -> None:
        self.at = {sha[:12]: i for i, sha in enumerate(shas)}
        self.levels, self.cv, self.crash = levels, cv, crash
        self.rng = random.Random(seed)
        self.runs = 0
        self.measured: set[int] = set()

    def __call__(self, command: str, *, cwd: Path, count: bool = True, **_: object
                 ) -> harness.RunRecord:
        pos = self.at[Path(cwd).name]
        self.runs += 1
        self.measured.add(pos)
        if pos in self.crash:
            return record(0.1, exit_code=1)
        return record(self.levels[pos] * (1 + self.rng.gauss(0, self.cv)))


def setup(tmp_path, levels, **kw):
    root = tmp_path / "repo"
    shas = history.make(root, [1000 + i for i in range(len(levels))], **kw)
    return Project(root).workspace("h"), shas


def run(ws, shas, fake, **kw):
    return bisect.bisect(ws, shas[0], shas[-1], yes=True, executor=fake, **kw)


def steps(n, at, before=1.0, after=1.3):
    return [before if i < at else after for i in range(n)]


@pytest.mark.parametrize("test", ["mann_whitney", "wilcoxon"])
def test_one_step_in_64_commits_costs_log_n_steps(tmp_path, test):
    ws, shas = setup(tmp_path, steps(64, 37), verify=False)
    fake = Timings(shas, steps(64, 37))
    doc = run(ws, shas, fake, test=test)
    assert doc["result"] == "found"
    assert [k["commit"] for k in doc["culprits"]] == [shas[37]]
    k = doc["culprits"][0]
    assert k["before"]["commit"] == shas[36] and k["direction"] == "worse"
    assert k["change_pct"] == pytest.approx(-30, abs=3) and k["ci_low"] > 1.2
    assert k["subject"] == "commit 37: size 1037" and k["author"] == "t <t@t>"
    assert doc["runs"]["steps"] == 6 and len(fake.measured) <= 14
    # Mann-Whitney decides a clean step at the first look (5 runs a side); 5 pairs can never
    # reach the first look's alpha (1/32 at best), so the paired test takes a second round.
    bound = doc["runs"]["every_commit"] // (2 if test == "mann_whitney" else 1)
    assert doc["runs"]["measured"] == fake.runs < bound
    assert doc["threshold"]["test"] == test
    assert not doc["unclear"] and not doc["skipped"]
    # bisect.md, the JSON beside it and the plot; the worktrees are gone.
    out = ws.dir / "bisect"
    md = (out / "bisect.md").read_text()
    assert md.startswith("---\nepoch: 0\nresult: found\n") and shas[37][:12] in md
    assert "![wall_time along the commits](bisect.png)" in md
    assert (out / "bisect.png").stat().st_size > 1000
    assert not [p for p in out.iterdir() if p.is_dir()]


def test_two_steps_in_opposite_directions_are_both_found(tmp_path):
    levels = [1.0] * 13 + [1.5] * 14 + [1.2] * 13
    ws, shas = setup(tmp_path, levels, verify=False)
    doc = run(ws, shas, Timings(shas, levels))
    assert doc["result"] == "found"
    assert [(k["position"], k["direction"]) for k in doc["culprits"]] == [(13, "worse"),
                                                                         (27, "better")]


def test_a_flat_range_is_no_change_not_a_culprit(tmp_path):
    ws, shas = setup(tmp_path, [1.0] * 16, verify=False)
    doc = run(ws, shas, Timings(shas, [1.0] * 16))
    assert doc["result"] == "no change" and doc["culprits"] == []
    assert doc["overall"]["state"] == "same"
    assert doc["runs"]["steps"] == 1


def test_commits_that_fail_are_skipped_and_named(tmp_path):
    # The step at 10 sits inside a run of commits 8..12 that cannot be measured: three fail
    # to prepare (the build hook), one crashes the repro, one fails verify.
    levels = steps(24, 10)
    ws, shas = setup(tmp_path, levels, broken={12})
    fake = Timings(shas, levels, crash={11})

    def prepare(ws, worktree):
        return "build failed: make exit 2" if fake.at[worktree.name] in (8, 9, 10) else None

    doc = run(ws, shas, fake, prepare_fn=prepare)
    assert doc["result"] == "found"
    (k,) = doc["culprits"]
    assert k["before"]["position"] == 7 and k["position"] == 13
    assert k["candidates"] == shas[8:14]
    skipped = {s["position"]: s["reason"] for s in doc["skipped"]}
    assert set(skipped) == {8, 9, 10, 11, 12}
    assert skipped[8] == "build failed: make exit 2"
    assert skipped[11].startswith(f"{shas[11][:12]} run 1: exit 1")
    assert skipped[12].startswith("verify failed (exit 1)")
    md = (ws.dir / "bisect" / "bisect.md").read_text()
    assert "## Skipped" in md and "the others could not be measured" in md


def test_a_failing_good_end_moves_inward_and_all_failing_is_one_line(tmp_path):
    levels = steps(8, 5)
    ws, shas = setup(tmp_path, levels, verify=False)
    doc = run(ws, shas, Timings(shas, levels, crash={0}))
    assert [k["position"] for k in doc["culprits"]] == [5]
    assert [s["position"] for s in doc["skipped"]] == [0]

    ws2, shas2 = setup(tmp_path / "b", [1.0] * 5, broken=set(range(5)))
    with pytest.raises(UsageError) as exc:
        run(ws2, shas2, Timings(shas2, [1.0] * 5))
    assert str(exc.value).startswith(f"bisect: no two commits of {shas2[0][:12]}..")
    assert "(4 of 5 failed; the first: verify failed (exit 1)" in str(exc.value)


def test_noise_buys_rounds_and_what_stays_unclear_is_reported(tmp_path):
    # A 20% step at a 15% threshold under 12% noise: the first look (5 vs 5) is not enough.
    levels = steps(8, 4, 1.0, 1.2)
    ws, shas = setup(tmp_path, levels, verify=False, max_runs=30)
    doc = run(ws, shas, Timings(shas, levels, cv=0.12, seed=3))
    ns = [j["n_before"] for j in doc["comparisons"]]
    assert max(ns) > 5, ns
    # Far too noisy for the cap: nothing is decided, and the bisection says so (exit 4).
    ws2, shas2 = setup(tmp_path / "b", levels, verify=False, max_runs=10)
    doc = run(ws2, shas2, Timings(shas2, levels, cv=0.6, seed=4))
    assert doc["result"] == "inconclusive" and doc["culprits"] == []
    assert doc["unclear"] and all(u["n_before"] == 10 for u in doc["unclear"])
    assert "Unclear (at the run cap)" in (ws2.dir / "bisect" / "bisect.md").read_text()


def test_an_interrupted_bisection_resumes_and_a_rerun_reuses_the_store(tmp_path):
    levels = steps(32, 9)
    ws, shas = setup(tmp_path, levels, verify=False)
    fake = Timings(shas, levels)
    calls = itertools.count()

    def interrupting(command, **kw):
        if next(calls) == 40:      # in the middle of the third step
            raise KeyboardInterrupt
        return fake(command, **kw)

    with pytest.raises(Interrupted):     # the step sizes below are Mann-Whitney's
        run(ws, shas, interrupting, test="mann_whitney")
    store = ws.project.store()
    _, rows = store.query("SELECT status FROM bisections")
    assert rows == [("running",)]
    _, rows = store.query("SELECT DISTINCT s.status FROM sessions s JOIN bisection_sessions b "
                          "ON b.session_id = s.id WHERE b.step = 3")
    assert rows == [("aborted",)]
    fake.runs = 0
    doc = run(ws, shas, fake, test="mann_whitney")
    assert [k["position"] for k in doc["culprits"]] == [9]
    assert doc["bisection"] == 1 and doc["runs"]["reused_comparisons"] == 4
    _, rows = store.query("SELECT status, runs FROM bisections")
    assert rows == [("found", doc["runs"]["measured"])]
    # The same question again: every pair is in the store, nothing is measured.
    fake.runs = 0
    again = run(ws, shas, fake, test="mann_whitney")
    assert fake.runs == 0 and again["culprits"][0]["commit"] == shas[9]
    assert again["culprits"][0]["reused"] and again["runs"]["steps"] == 0
    assert again["bisection"] == 2 and again["runs"]["measured"] == 0


def search(n, state_of):
    """The search alone over n commits, every pair judged by state_of(before, after)."""
    from perfgate import shift

    b = bisect.Bisection.__new__(bisect.Bisection)
    b.points = [bisect.Point(i, f"{i:040x}") for i in range(n)]
    b.judged, b.id, b.step, b.verifies = [], 1, 0, 0

    def measure(pairs, info):
        b.step += 1
        return {p: bisect.Judged(*p, shift.Shift(state_of(*p), None, 1.0, 1.0, 0.0, 1.0, 1.0,
                                                 0.5, 0.05, 5, 5, ()), b.step, (0, 0))
                for p in [*pairs, *info]}

    b._measure = measure
    return b.run()


def test_an_unclear_half_is_followed_only_where_the_move_must_be():
    def at3(a, b, unclear=((0, 4),)):
        return "unclear" if (a, b) in unclear else ("moved" if a < 3 <= b else "same")

    # (0, 8) moved and (4, 8) is the same: the move is in (0, 4), unclear as it is.
    out = search(17, at3)
    assert [k.after for k in out.culprits] == [3] and out.result == "found"
    assert [(j.before, j.after) for j in out.unclear] == []
    # Both halves unclear: nothing says where, so both are reported and nothing is guessed.
    out = search(17, lambda a, b: at3(a, b, unclear=((0, 4), (4, 8))))
    assert out.culprits == [] and out.result == "inconclusive"
    assert [(j.before, j.after) for j in out.unclear] == [(0, 4), (4, 8)]
    # Followed down to two adjacent commits that stay unclear: reported, not a culprit.
    out = search(17, lambda a, b: at3(a, b, unclear=((0, 4), (2, 4), (2, 3))))
    assert out.culprits == [] and [(j.before, j.after) for j in out.unclear] == [(2, 3)]
