"""Stage 1, scoping: recon the repo, pre-flight the repro, write scoping.md (result: pending)."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from perfgate import (
    artifacts,
    environment,
    power,
    prepare,
    recon,
    report,
    secrets,
    sequential,
    stacks,
    stats,
    vcs,
)
from perfgate import state as state_mod
from perfgate.artifacts import Artifact
from perfgate.sessions import Recorder, Side
from perfgate.state import Status
from perfgate.workspace import Workspace

MAX_PREFLIGHT_RUNS = 5


@dataclass
class Preflight:
    runs: int
    passed: bool
    exit_codes: list[int]
    observed: dict[str, list[float]]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    noise: list[str] = field(default_factory=list)
    session_id: int | None = None
    environment: dict = field(default_factory=dict)
    prepared: str | None = None          # what set-up and build did, when the contract has them
    profiler: object = None              # profiling.Check: the profiler, run once


def scope(ws: Workspace, *, progress=None) -> Artifact:
    """Recon + pre-flight; writes scoping.md with result pending (a new epoch)."""
    contract = ws.contract
    root = vcs.repo_root(ws.root)
    state = state_mod.read(ws.state_path, contract.name)
    state.epoch += 1
    state.status = Status.SCOPING
    state.base_commit = vcs.head(root)
    state.scoping_epoch = state.epoch
    state.approval = None  # a new scoping needs a new yes
    ctx = recon.detect(root)
    base = vcs.ensure_worktree(root, ws.base_tree, state.base_commit)
    pre = preflight(ws, base, state.base_commit, progress=progress)
    if pre.passed:
        from perfgate.stages import profiling

        pre.profiler = profiling.check(ws, base)
        if not pre.profiler.passed and pre.profiler.required:
            pre.passed = False
            pre.problems.append(f"profiler: {pre.profiler.message}")
    pre.warnings += vcs.check_repo(root)
    dirty = vcs.dirty(root)
    if dirty:
        pre.warnings.append(
            f"the checkout has {len(dirty)} uncommitted change(s) ({', '.join(d[3:] for d in dirty[:3])}"
            f"{', …' if len(dirty) > 3 else ''}); the baseline measures commit "
            f"{state.base_commit[:12]} without them")
    meta = {"epoch": state.epoch, "result": "pending", "contract": contract.name,
            "contract_digest": contract.digest(), "contract_sections": contract.section_digests(),
            "base_commit": state.base_commit,
            "preflight": "passed" if pre.passed else "failed",
            "preflight_session": pre.session_id}
    art = Artifact(meta, render(ws, ctx, pre))
    artifacts.write_artifact(ws.artifact("scoping"), art)
    state_mod.write(ws.state_path, state)
    return art


def preflight(ws: Workspace, cwd, commit: str, *, progress=None) -> Preflight:
    """Warmup + a few real runs through the harness, then the checks and the power arithmetic."""
    contract = ws.contract
    runs = max(3, min(contract.repro.measurement_runs, MAX_PREFLIGHT_RUNS))
    try:
        prepared = prepare.ensure(ws, cwd).describe()
    except prepare.SetupFailed as exc:
        return Preflight(runs=0, passed=False, exit_codes=[], observed={},
                         problems=[f"on the base commit {commit[:12]}: {exc}"],
                         prepared="failed")
    secret_values = secrets.load(contract.secrets_file_path, ws.root, source=str(ws.contract_path))
    env = secrets.environment(secret_values)
    store = ws.project.store()
    side = Side("pre-flight", "preflight", cwd, commit, None)
    machine = environment.full()  # stored with the pre-flight session's fingerprint
    rec = Recorder(store, contract, env, redact=secrets.redactions(secret_values),
                   stop_on_failure=False, progress=progress, environment=machine)
    rec.measure([side], warmup=contract.repro.warmup_runs, runs=runs)
    names = [m.name for m in contract.metrics.all()]
    if contract.suite is not None:  # per benchmark below; the invocation has the built-ins
        from perfgate.metrics import BUILTIN_METRICS

        names = [n for n in names if n in BUILTIN_METRICS]
    pre = Preflight(runs=runs, passed=not side.problems,
                    exit_codes=[r.exit_code for r in side.records],
                    observed={n: side.values(n) for n in names},
                    problems=list(side.problems), session_id=side.session_id,
                    environment=machine, prepared=prepared)
    for name in names:
        if len(pre.observed[name]) < len(side.records):
            pre.passed = False
            pre.problems.append(f"metric {name} was not observed in every run")
    hashes = [r.stdout_sha256 for r in side.records]
    if len(set(hashes)) > 1:
        differing = [i + 1 for i, h in enumerate(hashes) if h != hashes[0]]
        pre.warnings.append(
            "stdout differs between runs (runs " + ", ".join(map(str, differing)) +
            " differ from run 1): the repro may not be deterministic; pin its inputs and seeds")
    if contract.verify:
        v = verify_once(ws, cwd, env, secrets.redactions(secret_values))
        if v:
            pre.warnings.append(v)
    if "instructions" in names:
        pre.warnings += _counter_notes(pre, [r.wall_time for r in side.records])
    pre.noise = noise_and_power(ws, pre) if contract.suite is None else []
    if contract.suite is not None:
        from perfgate.suites import preflight as suite_preflight

        problems, pre.noise = suite_preflight.check(contract, side.records)
        pre.problems += problems
        pre.passed = pre.passed and not problems
    return pre


def _counter_notes(pre: Preflight, wall: list[float]) -> list[str]:
    """The instructions metric needs a counter, and every run pays a second, counted pass."""
    from perfgate import counters

    counter = counters.tool()
    if counter is None:
        pre.passed = False
        pre.problems.append("metric instructions: no instruction counter on this machine; "
                            + counters.INSTALL_HINT)
        return []
    if counter.name == "perf":
        return []
    each = f" (here about {statistics.median(wall):.2g} s per run before the slowdown)" if wall else ""
    return [f"instructions are counted by valgrind in a second pass of every run, typically "
            f"16-50x slower than the timed pass{each}; lower measurement_runs or keep the "
            "repro short"]


def verify_once(ws: Workspace, cwd, env, redact) -> str | None:
    """Run verify on the base: a base that fails its own tests can't judge candidates."""
    from perfgate import harness

    res = harness.run_shell(ws.contract.verify, cwd=cwd, env=env,
                            timeout_s=ws.contract.repro.timeout_s, redact=redact,
                            ledger=ws.project.ledger_dir)
    failed = res.failure("verify", ws.contract.repro.timeout_s)
    if failed is None:
        return None
    return f"{failed} on the base commit; every candidate would be rejected"


def noise_and_power(ws: Workspace, pre: Preflight) -> list[str]:
    """The arithmetic a user never does by hand: can this contract pass at all, and what can it see."""
    c = ws.contract
    n, alpha = c.repro.measurement_runs, c.significance.alpha
    lines: list[str] = []
    test = c.significance.test
    pmin = power.min_p(test, n, n)
    if c.threshold.significance_required and pmin is not None:
        looks = sequential.plan(n, c.repro.max_runs, alpha,
                                adaptive=sequential.adaptive_enabled(c.significance.adaptive),
                                test=test)
        if len(looks) > 1:
            lines.append(f"adaptive: while a verdict is inconclusive, rounds of {n} more runs per "
                         f"side up to {c.repro.max_runs} ({len(looks)} looks; alpha {alpha} split "
                         f"over them, {looks[-1].alpha:.3g} at the last).")
        if pmin >= alpha and len(looks) > 1:
            lines.append(f"with {n} vs {n} runs the first look can never be significant (smallest "
                         f"p {pmin:.4g}); the adaptive gate will add runs, but measurement_runs "
                         f">= {power.min_n(test, alpha)} saves a round.")
        elif pmin >= alpha:
            lines.append(
                f"IMPOSSIBLE: with {n} vs {n} runs the smallest possible one-sided "
                f"{stats.RANK_TEST_NAMES[test]} p is {pmin:.4g}, never "
                f"below alpha {alpha}: no change can ever pass. "
                f"Use measurement_runs >= {power.min_n(test, alpha)}.")
        else:
            lines.append(f"with {n} vs {n} runs the smallest possible p is {pmin:.4g} "
                         f"(alpha {alpha}): significance is reachable.")
    values = pre.observed.get(c.metrics.primary.name) or []
    if len(values) >= 2:
        d = stats.describe(values)
        cv = d.cv if math.isfinite(d.cv) else 0.0
        lines.append(f"{c.metrics.primary.name}: median {d.median:.6g} {c.metrics.primary.unit}, "
                     f"CV {cv * 100:.1f}% over {d.n} pre-flight runs.")
        target = threshold_pct(ws, d.median)
        if cv > 0 and target is not None:
            mde = power.min_detectable_effect_pct(cv, n, alpha)
            if not math.isfinite(mde):
                pass  # already reported as impossible above
            elif target < mde:
                need = power.n_for_effect(cv, target, alpha)
                lines.append(
                    f"WARNING: at this noise the smallest change detectable with N={n} is about "
                    f"{mde:.1f}%, above the {target:.3g}% threshold: use measurement_runs >= "
                    f"{need}.")
            else:
                lines.append(f"smallest change detectable with N={n}: about {mde:.1f}% "
                             f"(threshold {target:.3g}%).")
        elif cv == 0:
            lines.append("no run-to-run variation observed (a deterministic metric).")
    return lines


def threshold_pct(ws: Workspace, median: float) -> float | None:
    t = ws.contract.threshold
    candidates = []
    if t.type in ("pct", "both") and t.pct_min is not None:
        candidates.append(t.pct_min)
    if t.type in ("absolute", "both") and t.absolute_min is not None and median > 0:
        candidates.append(100.0 * t.absolute_min / median)
    return max(candidates) if candidates else None


def render(ws: Workspace, ctx: recon.RepoContext, pre: Preflight) -> str:
    """The scoping report, with the seed workflow's sections."""
    c = ws.contract
    prim = c.metrics.primary
    t = c.threshold
    out = [f"# Scoping Report: {c.name}", "", "## Repo Context",
           f"- language: {ctx.language}", f"- runtime: {ctx.runtime}",
           f"- package_manager: {ctx.package_manager}",
           f"- existing_benchmarks: {', '.join(ctx.existing_benchmarks) or 'none'}"]
    out += [f"- note: {n}" for n in ctx.notes]
    out += ["", "## Contract", "", "### Domain", c.domain]
    if c.description:
        out += ["", c.description]
    if c.suite is not None:
        from perfgate.suites import preflight as suite_preflight

        out += ["", "### Suite"] + suite_preflight.describe(c)
    out += ["", "### Repro", f"- script: `{c.repro.script}`" if c.repro.script else
            "- script: none (the suite is what is measured)",
            f"- warmup_runs: {c.repro.warmup_runs}",
            f"- measurement_runs: {c.repro.measurement_runs}",
            f"- timeout_s: {c.repro.timeout_s:g}",
            f"- setup: `{c.setup}`" if c.setup else "- setup: none",
            f"- build: `{c.build}`" if c.build else "- build: none",
            f"- verify: `{c.verify}`" if c.verify else "- verify: none",
            "", "### Metrics", f"- primary: `{report.metric_spec(prim)}`", "- watchdogs:"]
    out += [f"  - `{report.metric_spec(w)}`" for w in c.metrics.watchdogs] or ["  - none"]
    out += ["", "### Threshold", f"- type: {t.type}", f"- pct_min: {t.pct_min}",
            f"- absolute_min: {t.absolute_min}",
            f"- significance_required: {str(t.significance_required).lower()}",
            "", "### Significance Test", f"{c.significance.test} (alpha {c.significance.alpha})",
            "", "### Profiler"]
    if c.profiler:
        out += [f"- tool: {c.profiler.tool}", f"- command: `{c.profiler.command}`",
                f"- output_path: `{c.profiler.output_path}`"]
    else:
        script = c.repro.script
        if c.suite is not None:
            from perfgate.suites import focus

            script = focus.script(c, next(iter(focus.targets(c)), None))
        rec = stacks.recommend(ctx, c.domain, script or "", f".perfgate/{c.name}", root=ws.root)
        out += ["- none in the contract; recommended for this stack:",
                f"  - tool: {rec.tool}", f"  - command: `{rec.command}`",
                f"  - output_path: `{rec.output_path}`", f"  - note: {rec.note}"]
    chk = pre.profiler
    if chk is not None:
        out.append(f"- check: {'passed' if chk.passed else 'FAILED'}: {chk.message}")
    out += ["", "### Secrets", c.secrets_file_path or "none", "", "## Pre-flight result",
            f"- status: **{'passed' if pre.passed else 'FAILED'}**",
            f"- runs: {c.repro.warmup_runs} warmup + {pre.runs} measured",
            *([f"- set-up and build on the base: {pre.prepared}"] if pre.prepared else []),
            f"- exit codes: {', '.join(map(str, pre.exit_codes)) or 'none'}"]
    for name, vals in pre.observed.items():
        shown = ", ".join(f"{v:.6g}" for v in vals) or "not observed"
        out.append(f"- observed {name}: {shown}")
    out += [f"- problem: {p}" for p in pre.problems]
    out += [f"- warning: {w}" for w in pre.warnings]
    if not pre.warnings and pre.passed:
        out.append("- determinism: stdout identical in every run")
    out += ["", "### Noise and power"] + [f"- {line}" for line in pre.noise]
    out += ["", "### Environment"] + environment.lines(pre.environment)
    out += ["", "## Approval", "",
            f"Review this contract, then run `perfgate approve {ws.handle}` to allow measurement."
            if pre.passed else
            f"The pre-flight failed: fix it, then run `perfgate scope {ws.handle}` again.", ""]
    return "\n".join(out)
