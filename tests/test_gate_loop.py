"""The gate loop's logic against a fake executor (as hyperfine's mock executor): run order,
adaptive rounds, stopping, and the accept / reject / inconclusive paths, in milliseconds.

The runs are fake; the store, the sessions, the schedule, `measuring._next_round`,
`gate.decide` and the statistics are the real ones. Every stage also has tests with real
processes (test_stages, test_gate_flow, test_loop); this file covers the logic exhaustively.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from perfgate import harness, sequential
from perfgate.sessions import Side, schedule
from perfgate.stages import gating, measuring
from perfgate.workspace import Project


def record(value: float, exit_code: int = 0, rss: float = 10.0) -> harness.RunRecord:
    return harness.RunRecord(
        wall_time=value, cpu_time=value, peak_rss=rss, ru_maxrss_mb=rss, tree_rss_mb=rss,
        exit_code=exit_code, timed_out=False, stdout_sha256="0" * 64, stdout_bytes=0,
        stderr_tail="Error: it broke\n" if exit_code else "",
        metrics={"wall_time": value, "cpu_time": value, "peak_rss": rss})


class FakeExecutor:
    """Hands out prepared values per side (told apart by the directory they run in) and
    remembers the order of the calls."""

    def __init__(self, base: Sequence[float], cand: Sequence[float], *,
                 fail_candidate_at: int | None = None, cand_rss: float = 10.0) -> None:
        self.values = {"base": iter(base), "cand": iter(cand)}
        self.fail_at = fail_candidate_at
        self.cand_rss = cand_rss
        self.calls: list[tuple[str, bool]] = []     # (side, counted: False for warmups)

    def __call__(self, command: str, *, cwd: Path, count: bool = True, **_: object
                 ) -> harness.RunRecord:
        side = Path(cwd).name
        self.calls.append((side, count))
        if not count:
            return record(1.0)
        n = sum(1 for s, c in self.calls if s == side and c)
        if side == "cand" and n == self.fail_at:
            return record(0.5, exit_code=1)
        return record(next(self.values[side]), rss=self.cand_rss if side == "cand" else 10.0)


@pytest.fixture
def ws(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "cand").mkdir()
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "t.yaml").write_text(textwrap.dedent("""\
        name: t
        domain: cli_startup
        repro: {script: run-it, warmup_runs: 1, measurement_runs: 5, max_measurement_runs: 15}
        metrics:
          primary: {name: wall_time}
          watchdogs: [{name: peak_rss, max_regression_pct: 10}]
        threshold: {type: pct, pct_min: 20}
        significance: {adaptive: true}
        """))
    return Project(tmp_path).workspace("t")


def gate(ws, executor, **kw):
    base = Side("baseline", "baseline", ws.root / "base", "b" * 40, None)
    cand = Side("candidate", "candidate", ws.root / "cand", None, None)
    pair = measuring.measure_pair(ws, base, cand, executor=executor, **kw)
    return pair, gating.judge(ws, pair, kw.get("mode", "improvement"))


def spread(center: float, n: int, step: float = 0.01) -> list[float]:
    """n distinct values around center (no ties: the exact test applies)."""
    return [center + step * ((i * 7) % n - n // 2) / n for i in range(n)]


def test_schedule_is_abba_blocks():
    a, b = Side("A", "baseline", Path("a"), None, None), Side("B", "candidate", Path("b"), None,
                                                              None)
    order = [s.label + str(i) for s, i in schedule([a, b], 4, interleave=True)]
    assert order == ["A0", "B0", "B1", "A1", "A2", "B2", "B3", "A3"]
    assert [s.label for s, _ in schedule([a, b], 3, interleave=False)] == ["A"] * 3 + ["B"] * 3
    assert [s.label for s, _ in schedule([a], 2, interleave=True)] == ["A", "A"]


def test_runs_go_warmups_first_then_abba_and_into_the_store(ws):
    fake = FakeExecutor(spread(1.0, 5), spread(0.7, 5))
    pair, verdict = gate(ws, fake)
    assert fake.calls[:2] == [("base", False), ("cand", False)]
    assert [s for s, _ in fake.calls[2:]] == ["base", "cand", "cand", "base", "base", "cand",
                                              "cand", "base", "base", "cand"]
    store = ws.project.store()
    assert store.samples(pair.base.session_id, "wall_time") == spread(1.0, 5)
    assert store.samples(pair.candidate.session_id, "wall_time") == spread(0.7, 5)
    assert verdict.verdict == "accepted" and verdict.look.number == 1


def test_an_unclear_first_look_buys_a_round_then_accepts(ws):
    # One candidate run slower than three baseline runs: p = 7/252 ≈ 0.028 at 5 vs 5, above
    # the first look's share of alpha (0.05 / 3): undecided, so 5 more runs per side.
    cand = [0.70, 0.72, 1.001, 0.71, 0.69] + spread(0.7, 10)
    fake = FakeExecutor(spread(1.0, 15), cand)
    pair, verdict = gate(ws, fake)
    assert verdict.verdict == "accepted"
    assert (verdict.look.number, verdict.look.of, verdict.look.runs) == (2, 3, 10)
    store = ws.project.store()
    assert len(store.samples(pair.base.session_id, "wall_time")) == 10
    assert len(store.samples(pair.candidate.session_id, "wall_time")) == 10


def test_a_clear_no_stops_at_the_first_look(ws):
    fake = FakeExecutor(spread(1.0, 15), spread(1.3, 15))
    _, verdict = gate(ws, fake)
    assert verdict.verdict == "rejected" and verdict.look.number == 1
    assert sum(c for _, c in fake.calls) == 10
    assert "got 30.0% worse" in verdict.reasons[0]


def test_still_unclear_at_the_cap_is_inconclusive(ws):
    # The medians differ by 25%, but the samples overlap so much that no look is significant.
    base = [1.0, 1.0, 0.5] * 5
    cand = [0.75, 0.76, 0.45, 0.74, 1.1] * 3
    fake = FakeExecutor(base, cand)
    pair, verdict = gate(ws, fake)
    assert verdict.verdict == "inconclusive"
    assert verdict.look.final and verdict.look.runs == 15
    assert len(ws.project.store().samples(pair.candidate.session_id, "wall_time")) == 15


def test_without_adaptive_the_gate_takes_exactly_n(ws):
    cand = [0.70, 0.72, 1.001, 0.71, 0.69]
    fake = FakeExecutor(spread(1.0, 5), cand)
    pair, verdict = gate(ws, fake, adaptive=False)
    assert verdict.look.of == 1 and sum(c for _, c in fake.calls) == 10
    # With the whole alpha at its only look, p ≈ 0.028 is significant.
    assert verdict.verdict == "accepted"


def test_a_watchdog_regression_rejects_even_a_clear_gain(ws):
    fake = FakeExecutor(spread(1.0, 5), spread(0.6, 5), cand_rss=12.0)
    _, verdict = gate(ws, fake)
    assert verdict.verdict == "rejected"
    assert verdict.reasons == ("watchdog peak_rss regressed 20.0% (10 MiB → 12 MiB), more "
                               "than its 10% limit, significant: p = 0.00397",)


def test_a_failed_candidate_run_stops_the_measurement_and_rejects(ws):
    fake = FakeExecutor(spread(1.0, 5), spread(0.7, 5), fail_candidate_at=3)
    pair, verdict = gate(ws, fake)
    assert pair.run_failure == measuring.RunFailure(
        "candidate", "candidate run 4: exit 1: Error: it broke")
    assert verdict.verdict == "rejected" and verdict.primary is None
    assert verdict.reasons == ("candidate run 4: exit 1: Error: it broke",)
    store = ws.project.store()
    assert store.session(pair.candidate.session_id)["status"] == "failed"


def _sides_with(base: Sequence[float], cand: Sequence[float]) -> tuple[Side, Side]:
    a = Side("baseline", "baseline", Path("a"), None, None, records=[record(v) for v in base])
    b = Side("candidate", "candidate", Path("b"), None, None, records=[record(v) for v in cand])
    return a, b


def test_next_round_asks_for_runs_only_while_undecided(ws):
    c = ws.contract
    looks = sequential.plan(5, 15, 0.05, adaptive=True)
    unclear = _sides_with(spread(1.0, 5), [0.70, 0.72, 1.001, 0.71, 0.69])
    reached = [looks[0]]
    more = measuring._next_round(c, looks, reached, *unclear, None, "improvement")
    assert more(5) == 5 and reached == list(looks[:2])
    clear = _sides_with(spread(1.0, 10), spread(0.7, 10))
    reached = [looks[1]]
    assert measuring._next_round(c, looks, reached, *clear, None, "improvement")(10) == 0
    assert reached == [looks[1]]
    # At the last look nothing more is asked for, whatever the data say.
    reached = [looks[-1]]
    assert measuring._next_round(c, looks, reached, *unclear, None, "improvement")(15) == 0


def test_next_round_judges_against_a_stored_baseline_when_not_interleaving(ws):
    c = ws.contract
    looks = sequential.plan(5, 15, 0.05, adaptive=True)
    _, cand = _sides_with([], spread(0.7, 5))
    reached = [looks[0]]
    stored = {"wall_time": spread(1.0, 5), "peak_rss": [10.0] * 5}
    more = measuring._next_round(c, looks, reached, Side("b", "baseline", Path("a"), None, None),
                                 cand, stored, "improvement")
    assert more(5) == 0  # decided on the stored baseline's values
