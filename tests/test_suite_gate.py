"""A suite's decision: per-benchmark tests, the correction across them, the geometric mean,
adaptive rounds per suite. Pure logic on plain values, then the whole measuring/gating path
against a fake executor (real store, real Recorder, real schedule), as test_gate_loop does."""
from __future__ import annotations

import random
import textwrap
from pathlib import Path

import pytest

from perfgate import contract as contract_mod
from perfgate import harness, report, stats, suite_gate
from perfgate.errors import SuiteError
from perfgate.sessions import Side
from perfgate.stages import gating, measuring
from perfgate.suite_gate import SuiteSamples
from perfgate.workspace import Project


def make(suite: dict | None = None, **extra) -> contract_mod.Contract:
    data = {"name": "s", "domain": "cli_startup",
            "suite": {"format": "hyperfine", "command": "hyperfine --export-json {output} x",
                      **(suite or {})}, **extra}
    return contract_mod.from_mapping(data, "contracts/s.yaml")


def side(factors: dict[str, float], n: int = 10, k: int = 12, cv: float = 0.03,
         seed: int = 1) -> SuiteSamples:
    rng = random.Random(seed)
    return SuiteSamples({f"b{i:02d}": {"time": [(1 + i / 10) * factors.get(f"b{i:02d}", 1.0)
                                                * rng.gauss(1, cv) for _ in range(n)]}
                         for i in range(k)})


def test_three_true_speedups_are_found_and_nothing_else_is_flagged():
    c = make(threshold={"pct_min": 5})
    fast = {"b00": 1 / 1.3, "b03": 1 / 1.3, "b07": 1 / 1.3}
    v = suite_gate.decide(side({}, seed=1), side(fast, seed=2), c)
    changed = sorted(b.name for b in v.benchmarks if b.status != "unchanged")
    assert changed == ["b00", "b03", "b07"]
    assert all(b.status == "improved" for b in v.benchmarks if b.name in fast)
    g = v.suite["geomean"]
    assert g["ratio"] == pytest.approx((1 / 1.3) ** (3 / 12), rel=0.03)
    assert g["ci_low"] < g["ratio"] < g["ci_high"]
    # 3 of 12 benchmarks 23% faster: the geometric mean moved about 6.3%, past the 5%.
    assert v.verdict == "accepted" and v.primary.name == "geomean(time)"


def test_identical_sides_never_pass_and_flag_nothing():
    c = make(threshold={"pct_min": 5})
    v = suite_gate.decide(side({}, seed=3), side({}, seed=3), c)
    assert v.verdict == "rejected"
    assert {b.status for b in v.benchmarks} == {"unchanged"}
    assert v.suite["unchanged"] == 12


def test_a_significant_regression_beyond_its_limit_rejects_a_clear_gain():
    c = make({"max_regression_pct": 10}, threshold={"pct_min": 5})
    factors = {f"b{i:02d}": 0.5 for i in range(1, 12)} | {"b00": 1.4}
    v = suite_gate.decide(side({}), side(factors, seed=5), c)
    assert v.verdict == "rejected"
    bad = [b for b in v.benchmarks if b.status == "regressed"]
    assert [b.name for b in bad] == ["b00"] and not bad[0].passed
    assert len(v.reasons) == 1 and v.reasons[0].startswith("benchmark b00: time median got ")
    assert "after holm correction: adjusted p = " in v.reasons[0]


def test_per_benchmark_limits_override_the_suite_default():
    c = make({"max_regression_pct": 10, "limits": {"b0*": {"max_regression_pct": 50}}},
             threshold={"pct_min": 5})
    factors = {f"b{i:02d}": 0.5 for i in range(1, 12)} | {"b00": 1.4}
    v = suite_gate.decide(side({}), side(factors, seed=5), c)
    assert v.verdict == "accepted"
    b00 = next(b for b in v.benchmarks if b.name == "b00")
    assert b00.limit_pct == 50 and b00.status == "slower" and b00.passed


def _borderline(correction: str):
    """One benchmark 15% slower on 6 runs whose ranks barely separate: significant alone,
    not once it is one of 12 tests."""
    c = make({"max_regression_pct": 10, "correction": correction}, threshold={"pct_min": 5},
             repro={"measurement_runs": 6})
    base, cand = side({}, n=6, cv=0.0), side({}, n=6, cv=0.0, seed=9)
    b = [1.00, 1.02, 1.04, 1.20, 1.06, 1.08]
    cnd = [1.15, 1.17, 1.19, 1.21, 1.05, 1.23]
    base.benchmarks["b00"]["time"][:] = b
    cand.benchmarks["b00"]["time"][:] = cnd
    return suite_gate.decide(base, cand, c, mode="no-regression")


def test_holm_keeps_a_lone_borderline_regression_from_failing_the_suite():
    raw = stats.mann_whitney([1.00, 1.02, 1.04, 1.20, 1.06, 1.08],
                             [1.15, 1.17, 1.19, 1.21, 1.05, 1.23], lower_is_better=False)
    assert raw.p_value < 0.05                      # alone, it would be called significant
    none = _borderline("none")
    assert none.verdict == "rejected"
    assert "no correction" in none.reasons[0]
    holm = _borderline("holm")
    assert holm.verdict == "inconclusive"          # beyond its limit, not significantly
    assert holm.reasons[0].startswith("benchmark b00: ") and "after holm correction" in \
        holm.reasons[0]


def test_no_regression_mode_passes_an_unchanged_suite():
    c = make(threshold={"pct_min": 5})
    v = suite_gate.decide(side({}, seed=11), side({}, seed=12), c, mode="no-regression")
    assert v.verdict == "accepted", v.reasons


def test_a_named_primary_is_gated_like_a_single_contract():
    c = make({"primary": "b04"}, threshold={"pct_min": 20})
    v = suite_gate.decide(side({}), side({"b04": 0.6}, seed=4), c)
    assert v.verdict == "accepted" and v.primary.name == "time"
    prim = next(b for b in v.benchmarks if b.role == "primary")
    assert prim.name == "b04" and prim.passed and prim.limit_pct == 20
    v = suite_gate.decide(side({}), side({"b04": 0.9}, seed=4), c)
    assert v.verdict == "rejected"
    assert v.reasons[0].startswith("benchmark b04 (primary): time median improved ")


def test_a_benchmark_missing_on_one_side_is_a_one_line_error():
    c = make()
    base, cand = side({}), side({})
    del cand.benchmarks["b05"]
    with pytest.raises(SuiteError, match=r"^contracts/s.yaml: suite: benchmark 'b05' is missing "
                       r"on the candidate \(the baseline has it\)"):
        suite_gate.decide(base, cand, c)


def test_the_document_carries_every_benchmark_and_reads_back():
    from perfgate.schemas import upgrade_verdict

    c = make(threshold={"pct_min": 5})
    v = suite_gate.decide(side({}), side({"b02": 0.7}, seed=2), c)
    doc = v.to_document(contract="s", base={"commit": "a", "session": 1},
                        candidate={"commit": "b", "tree": "c", "session": 2})
    assert doc["version"] == 2 and len(doc["benchmarks"]) == 12
    assert doc["suite"]["correction"] == "holm" and doc["suite"]["unchanged"] == 11
    from tests.test_gate import _schema, _validate

    _validate(doc, _schema())
    old = {k: v for k, v in doc.items() if k not in ("benchmarks", "suite")} | {"version": 1}
    assert upgrade_verdict(old)["benchmarks"] == []
    md = report.summary_markdown(doc, title="t")
    assert md.index("| b02 |") < md.index("11 unchanged") < md.index("geometric mean of")


# -- through measure_pair with a fake executor -----------------------------------------------

def invocation(values: dict[str, float]) -> harness.RunRecord:
    total = sum(values.values())
    return harness.RunRecord(
        wall_time=total, cpu_time=total, peak_rss=10.0, ru_maxrss_mb=10.0, tree_rss_mb=10.0,
        exit_code=0, timed_out=False, stdout_sha256="0" * 64, stdout_bytes=0, stderr_tail="",
        metrics={"wall_time": total, "cpu_time": total, "peak_rss": 10.0},
        benchmarks={k: {"time": v} for k, v in values.items()},
        points={k: {"time": [v, v * 1.01]} for k, v in values.items()})


class FakeSuite:
    """Each call is one invocation of a 3-benchmark suite; the candidate's `fast` benchmark
    runs `factor` times the base's time. Remembers the side order."""

    def __init__(self, factor: float, noise: float = 0.02, seed: int = 3,
                 drop_on_candidate: str | None = None) -> None:
        self.factor, self.noise, self.rng = factor, noise, random.Random(seed)
        self.drop = drop_on_candidate
        self.calls: list[str] = []

    def __call__(self, command, *, cwd: Path, count: bool = True, **_) -> harness.RunRecord:
        which = Path(cwd).name
        self.calls.append(which)
        vals = {"fast": 1.0, "same": 2.0, "also": 3.0}
        if which == "cand":
            vals["fast"] *= self.factor
            if self.drop:
                del vals[self.drop]
        return invocation({k: v * self.rng.gauss(1, self.noise) for k, v in vals.items()})


@pytest.fixture
def ws(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "cand").mkdir()
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "t.yaml").write_text(textwrap.dedent("""\
        name: t
        domain: cli_startup
        repro: {warmup_runs: 1, measurement_runs: 5, max_measurement_runs: 15}
        suite: {format: hyperfine, command: "hyperfine --export-json {output} x", primary: fast}
        threshold: {type: pct, pct_min: 20}
        significance: {adaptive: true}
        """))
    return Project(tmp_path).workspace("t")


def gate(ws, executor, **kw):
    base = Side("baseline", "baseline", ws.root / "base", "b" * 40, None)
    cand = Side("candidate", "candidate", ws.root / "cand", None, None)
    pair = measuring.measure_pair(ws, base, cand, executor=executor, **kw)
    return pair, gating.judge(ws, pair, kw.get("mode", "improvement"))


def test_invocations_alternate_abba_and_every_benchmark_is_stored(ws):
    fake = FakeSuite(0.5)
    pair, verdict = gate(ws, fake, adaptive=False)
    assert fake.calls[2:10] == ["base", "cand", "cand", "base", "base", "cand", "cand", "base"]
    store = ws.project.store()
    per = store.suite_values([pair.base.session_id], ["time"])[pair.base.session_id]
    assert sorted(per) == ["also", "fast", "same"] and all(len(v["time"]) == 5
                                                             for v in per.values())
    _, rows = store.query("SELECT benchmark, count(*) FROM v_points WHERE session_id = ? "
                          "GROUP BY ALL ORDER BY 1", [pair.candidate.session_id])
    assert rows == [("also", 10), ("fast", 10), ("same", 10)]
    # The invocation as a whole is a sample without a benchmark, as a single repro's runs are.
    assert len(store.samples(pair.base.session_id, "wall_time")) == 5
    assert verdict.verdict == "accepted"
    assert [b.status for b in verdict.benchmarks] == ["unchanged", "improved", "unchanged"]


def test_adaptive_rounds_run_until_the_suite_is_clear(ws):
    # 22% faster with 12% noise: undecided at 5 vs 5, so the suite buys rounds.
    fake = FakeSuite(0.78, noise=0.12, seed=8)
    pair, verdict = gate(ws, fake)
    assert verdict.look.number > 1
    n = len(ws.project.store().samples(pair.candidate.session_id, "wall_time"))
    assert n == verdict.look.runs and n > 5


def test_a_benchmark_that_vanishes_on_the_candidate_stops_the_suite(ws):
    from perfgate.suites.runner import Invoker

    fake = FakeSuite(0.5, drop_on_candidate="same")
    inv = Invoker(ws.contract, run_once=fake)
    with pytest.raises(SuiteError, match="suite: benchmark 'same' is missing from the results in"):
        gate(ws, _Checked(inv, fake))


class _Checked:
    """The Invoker's name check over a fake that hands out whole invocations."""

    def __init__(self, inv, fake) -> None:
        self.inv, self.fake = inv, fake

    def __call__(self, command, *, cwd, **kw):
        rec = self.fake(command, cwd=cwd, **kw)
        self.inv._check_names(set(rec.benchmarks), Path(cwd))
        return rec
