"""`perfgate calibrate`: measure, on this machine, how often the gate is fooled and what it can see.

A/A gates compare the base commit with itself, so every "accepted" is a false accept. An
optional synthetic effect makes one side slower by a known amount with a CPU burn (a shell
loop: no sleep, a fixed instruction count) so the detection rate, the gate's power, is
measured too. The numbers are the gate's own, adaptive rounds included, not a model.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from perfgate import artifacts, environment, harness, power, report, secrets, sequential, vcs
from perfgate.errors import UsageError
from perfgate.sessions import Side
from perfgate.workspace import Workspace

# The metrics the burn can move, with the loop iterations that probe its cost: enough to stand
# well clear of timing noise; a count needs far fewer (and under valgrind each costs ~30x).
PROBE_ITERATIONS = {"wall_time": 200_000, "cpu_time": 200_000, "instructions": 20_000}
BURN_METRICS = tuple(PROBE_ITERATIONS)


def burn_loop(iterations: int) -> str:
    """A busy shell loop: costs CPU (and instructions) in proportion to `iterations`."""
    return (f"perfgate_i=0; while [ $perfgate_i -lt {int(iterations)} ]; do "
            "perfgate_i=$((perfgate_i + 1)); done")


def with_burn(script: str, iterations: int) -> str:
    """The repro, then the burn; the repro's own exit status is kept."""
    return f"{script}\nperfgate_rc=$?\n{burn_loop(iterations)}\nexit $perfgate_rc"


@dataclass
class Result:
    contract: str
    metric: str
    gates: int
    runs: int
    adaptive: bool
    alpha: float
    false_accepts: int = 0
    inconclusive: int = 0
    significant_alone: int = 0       # A/A gates whose test alone said p < alpha (threshold aside)
    cv: float | None = None
    mde_pct: float | None = None
    recommended_runs: int | None = None
    threshold_pct: float | None = None
    effect_pct: float | None = None
    effect_gates: int = 0
    detected: int = 0
    mean_runs_per_side: float | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)
    detail: list[dict[str, Any]] = field(default_factory=list)


def calibrate(ws: Workspace, *, gates: int = 20, effect_pct: float | None = None,
              adaptive: bool | None = None, yes: bool = False, progress=None) -> Result:
    """Run `gates` A/A gates (and as many with a synthetic improvement of effect_pct)."""
    from perfgate import approval
    from perfgate import state as state_mod
    from perfgate.stages import gating, measuring, scoping

    c = ws.contract
    prim = c.metrics.primary
    if effect_pct is not None and c.suite is not None:
        raise UsageError(f"{ws.display(ws.contract_path)}: suite: calibrate --effect slows one "
                         "command with a burn, and a suite has many; run its A/A gates "
                         "without --effect")
    if effect_pct is not None and prim.name not in BURN_METRICS:
        raise UsageError(f"calibrate --effect needs a primary metric the burn can move "
                         f"({', '.join(BURN_METRICS)}), not {prim.name}")
    state = state_mod.read(ws.state_path, c.name) if yes else approval.require(ws)
    root = vcs.repo_root(ws.root)
    commit = state.base_commit or vcs.head(root)
    base_dir = vcs.ensure_worktree(root, ws.base_tree, commit)
    tree = vcs.tree_hash(base_dir)
    env = environment.full()
    use_adaptive = sequential.adaptive_enabled(c.significance.adaptive, adaptive)
    out = Result(c.name, prim.name, gates, c.repro.measurement_runs, use_adaptive,
                 c.significance.alpha, effect_pct=effect_pct, environment=env,
                 advice=environment.advice(env))
    store = ws.project.store()
    cvs: list[float] = []
    all_values: list[float] = []
    per_side: list[int] = []

    def one_gate(kind: str, a_script: str | None, b_script: str | None) -> dict[str, Any]:
        a = Side("A", "calibration", base_dir, commit, tree, script=a_script)
        b = Side("B", "calibration", base_dir, commit, tree, script=b_script)
        pair = measuring.measure_pair(ws, a, b, progress=progress, adaptive=use_adaptive,
                                      run_verify=False)
        if pair.run_failure:
            raise UsageError(f"calibrate: {pair.run_failure}")
        verdict = gating.judge(ws, pair)
        p = verdict.primary
        for side in (a, b):
            s = store.summary(side.session_id).get(prim.name)
            if s is not None and s.cv is not None and kind == "A/A":
                cvs.append(s.cv)
                all_values.extend(store.samples(side.session_id, prim.name))
        if kind == "A/A":   # the effect gates stop early by design: they'd flatter the mean
            per_side.append(p.n_candidate if p else 0)
        return {"kind": kind, "verdict": verdict.verdict,
                "change_pct": p.change_pct if p else None,
                "p_value": p.p_value if p else None,
                "runs_per_side": p.n_candidate if p else None,
                "significant": bool(p and p.p_value is not None and p.alpha
                                    and p.p_value < p.alpha),
                "sessions": [a.session_id, b.session_id]}

    for _ in range(gates):
        row = one_gate("A/A", None, None)
        out.detail.append(row)
        out.false_accepts += row["verdict"] == "accepted"
        out.inconclusive += row["verdict"] == "inconclusive"
        out.significant_alone += row["significant"]
    out.cv = statistics.median(cvs) if cvs else None
    out.threshold_pct = scoping.threshold_pct(ws, statistics.median(all_values)) \
        if all_values else None
    if out.cv is not None and out.cv > 0:
        mde = power.min_detectable_effect_pct(out.cv, out.runs, out.alpha)
        out.mde_pct = mde if math.isfinite(mde) else None
        if out.threshold_pct:
            out.recommended_runs = power.n_for_effect(out.cv, out.threshold_pct, out.alpha)
    elif out.cv == 0:
        out.mde_pct, out.recommended_runs = 0.0, power.mw_min_n(out.alpha)
    if effect_pct is not None:
        iterations = _burn_iterations(ws, base_dir, effect_pct, statistics.median(all_values))
        for _ in range(gates):
            # A is the slowed copy, B the plain one: B is better by effect_pct, as a fix would be.
            row = one_gate(f"{effect_pct:g}% effect", with_burn(c.repro.script, iterations),
                           with_burn(c.repro.script, 0))
            out.detail.append(row)
            out.effect_gates += 1
            out.detected += row["verdict"] == "accepted"
    out.mean_runs_per_side = statistics.fmean(per_side) if per_side else None
    _record(ws, out, commit)
    artifacts.write_atomic(ws.dir / "calibration.md", markdown(out))
    return out


def _burn_iterations(ws: Workspace, cwd, effect_pct: float, median: float) -> int:
    """Loop iterations that add median * e / (1 - e) to the primary metric, so that the plain
    side measures effect_pct better than the burned one. Probed here, on this machine."""
    c = ws.contract
    values = secrets.load(c.secrets_file_path, ws.root, source=str(ws.contract_path))
    env = secrets.environment(values)
    prim = c.metrics.primary

    def cost(iterations: int) -> float:
        runs = [harness.run_once(burn_loop(iterations), cwd=cwd, env=env, timeout_s=600,
                                 metrics=[prim]) for _ in range(3)]
        return statistics.median(r.metrics[prim.name] for r in runs)

    probe = PROBE_ITERATIONS[prim.name]
    per_iteration = (cost(probe) - cost(0)) / probe
    if per_iteration <= 0:
        raise UsageError("calibrate: the burn loop did not measurably cost anything here")
    e = effect_pct / 100
    return max(1, round(median * e / (1 - e) / per_iteration))


def _record(ws: Workspace, r: Result, commit: str) -> None:
    ws.project.store().record_calibration(
        contract=r.contract, contract_digest=ws.contract.digest(), commit_sha=commit,
        metric=r.metric, gates=r.gates, runs=r.runs, adaptive=r.adaptive,
        false_accepts=r.false_accepts, inconclusive=r.inconclusive, alpha=r.alpha, cv=r.cv,
        mde_pct=r.mde_pct, recommended_runs=r.recommended_runs, effect_pct=r.effect_pct,
        effect_gates=r.effect_gates or None, detected=r.detected if r.effect_gates else None,
        environment=r.environment, detail=asdict(r)["detail"])


def summary_lines(r: Result) -> list[str]:
    """The findings in plain sentences (the CLI prints them; calibration.md has them too)."""
    how = "adaptive rounds" if r.adaptive else "a fixed N"
    lines = [
        f"A/A false accepts: {r.false_accepts}/{r.gates} ({100 * r.false_accepts / r.gates:.1f}%, "
        f"alpha {r.alpha:g}; {how}, {report.num(r.mean_runs_per_side, 3)} runs per side on "
        f"average); inconclusive {r.inconclusive}/{r.gates}; the test alone said p < alpha in "
        f"{r.significant_alone}/{r.gates}",
        f"{r.metric} CV: {report.num(None if r.cv is None else 100 * r.cv, 3)}% (median over "
        f"{2 * r.gates} sessions)"]
    if r.mde_pct is not None:
        lines.append(f"smallest change detectable with N={r.runs} (80% power): "
                     f"{r.mde_pct:.1f}%" + (f"; the threshold is {r.threshold_pct:.3g}%"
                                             if r.threshold_pct else ""))
    elif r.cv:
        lines.append(f"with N={r.runs} per side no change can reach p < alpha {r.alpha:g} "
                     f"(use at least {power.mw_min_n(r.alpha)})")
    if r.recommended_runs is not None:
        lines.append(f"recommended measurement_runs for the threshold: {r.recommended_runs}")
    if r.effect_gates:
        lines.append(f"synthetic {r.effect_pct:g}% improvement detected: {r.detected}/"
                     f"{r.effect_gates} ({100 * r.detected / r.effect_gates:.0f}% power)")
    if r.false_accepts / r.gates > r.alpha:
        lines.append(f"WARNING: the false-accept rate is above alpha {r.alpha:g}: raise "
                     "measurement_runs or the threshold, or use the instructions metric")
    return lines


def markdown(r: Result) -> str:
    rows = [[str(i), d["kind"], d["verdict"], report.num(d["change_pct"], 3),
             report.num(d["p_value"], 3), str(d["runs_per_side"])]
            for i, d in enumerate(r.detail, 1)]
    return "\n".join(
        [f"# Calibration: {r.contract}", ""] + [f"- {x}" for x in summary_lines(r)] +
        ["", "## Environment", ""] + environment.lines(r.environment) +
        ["", "## Gates", "", report.markdown_table(
            ("#", "kind", "verdict", "change %", "p", "runs per side"), rows), ""])
