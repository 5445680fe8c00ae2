"""Stage 6, measuring: verify the candidate, then measure it against its baseline, interleaved."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from perfgate import approval, artifacts, harness, prepare, report, secrets, sequential, vcs
from perfgate import state as state_mod
from perfgate.artifacts import Artifact
from perfgate.errors import MeasurementError, RunFailed, UsageError
from perfgate.sequential import Look
from perfgate.sessions import Executor, Recorder, Side
from perfgate.state import Status
from perfgate.workspace import Workspace


@dataclass(frozen=True)
class RunFailure:
    """A run failed, timed out or lost a metric: on which side (a session role), and why."""

    role: str
    message: str


@dataclass
class Pair:
    """What measuring hands to gating: two sessions of one comparison, or a verify failure."""

    base: Side
    candidate: Side
    comparison_id: int | None
    verify_failure: str | None
    run_failure: RunFailure | None = None
    look: Look | None = None            # the look of the plan the measuring stopped at
    prepared: dict[str, str] = dataclasses.field(default_factory=dict)  # label -> what ran


def base_failed(base: Side, problem: str) -> MeasurementError:
    """A base that cannot run is an error in the contract or the base, never a verdict."""
    where = f" at {base.commit[:12]}" if base.commit else ""
    return MeasurementError(f"the base side{where} cannot be measured: {problem} (an error, "
                            "not a verdict: fix the contract or the base)")


def prepare_sides(ws: Workspace, base: Side, cand: Side, *, with_base: bool = True
                  ) -> tuple[dict[str, str], str | None]:
    """Set-up and build in both worktrees (prepare.ensure). A base that fails raises; a
    candidate that fails comes back as the reason it is rejected. A side without a tree hash
    is not a git worktree (the gate loop's fake executor): nothing to prepare."""
    done: dict[str, str] = {}
    with_base = with_base and base.tree is not None
    if cand.tree is None:
        return done, None
    if with_base:
        try:
            done[base.label] = prepare.ensure(ws, base.cwd).describe()
        except prepare.SetupFailed as exc:
            raise base_failed(base, str(exc)) from None
    if not with_base or Path(cand.cwd).resolve() != Path(base.cwd).resolve():
        try:
            done[cand.label] = prepare.ensure(ws, cand.cwd).describe()
        except prepare.SetupFailed as exc:
            return done, f"{cand.label}: {exc}"
    return done, None


def verify(ws: Workspace, tree: Path, env, redact) -> str | None:
    """Correctness before speed: None when the contract's verify passes in `tree`."""
    if not ws.contract.verify:
        return None
    res = harness.run_shell(ws.contract.verify, cwd=tree, env=env,
                            timeout_s=ws.contract.repro.timeout_s, redact=redact,
                            ledger=ws.project.ledger_dir)
    return res.failure("verify", ws.contract.repro.timeout_s)


def measure_pair(ws: Workspace, base: Side, cand: Side, *, interleave: bool = True,
                 allow_mismatch: bool = False, progress=None, adaptive: bool | None = None,
                 mode: str = "improvement", run_verify: bool = True,
                 executor: Executor = harness.run_once) -> Pair:
    """Verify the candidate, then record both sides as one comparison in the store.

    Adaptive: after each round, decide over what was measured at that look's share of alpha;
    while the answer is inconclusive and the plan has looks left, measure another round.
    """
    c = ws.contract
    if not interleave and c.significance.paired:
        raise UsageError(f"{ws.contract_path}: significance.test: wilcoxon pairs runs measured "
                         "together, and --no-interleave compares with a stored baseline; use "
                         "mann_whitney for that")
    values = secrets.load(c.secrets_file_path, ws.root, source=str(ws.contract_path))
    env, redact = secrets.environment(values), secrets.redactions(values)
    prepared, broken = prepare_sides(ws, base, cand, with_base=interleave)
    if broken:
        return Pair(base, cand, None, None, run_failure=RunFailure(cand.role, broken),
                    prepared=prepared)
    failure = verify(ws, cand.cwd, env, redact) if run_verify else None
    if failure:
        return Pair(base, cand, None, failure, prepared=prepared)
    store = ws.project.store()
    looks = sequential.plan(c.repro.measurement_runs, c.repro.max_runs, c.significance.alpha,
                            adaptive=sequential.adaptive_enabled(c.significance.adaptive, adaptive, mode),
                            test=c.significance.test)
    reached = [looks[0]]
    rec = Recorder(store, c, env, redact=redact, progress=progress, executor=executor)
    try:
        if interleave:
            sides = [base, cand]
        else:
            _reuse_baseline(ws, store, base, allow_mismatch)
            sides = [cand]
        if c.suite is not None:   # a suite's rounds: stop when every benchmark is clear
            from perfgate import suite_gate

            base_values = None if interleave else suite_gate.stored_samples(
                store, [base.session_id], c)[0]
            more = suite_gate.next_round(c, looks, reached, base, cand, base_values, mode)
        else:
            base_values = None if interleave else store.values(
                [base.session_id], [m.name for m in c.metrics.all()])[base.session_id]
            more = _next_round(c, looks, reached, base, cand, base_values, mode)
        rec.measure(sides, warmup=c.repro.warmup_runs, runs=c.repro.measurement_runs, more=more)
    except RunFailed as exc:
        # Partial data never decides: the sessions are marked failed. A failure of the
        # candidate rejects it; one of the base is an error (the gate cannot judge at all).
        if exc.role == base.role != cand.role:
            raise base_failed(base, f"`{base.script or c.repro.script}`: {exc}") from None
        return Pair(base, cand, None, None, run_failure=RunFailure(exc.role, str(exc)),
                    look=reached[-1], prepared=prepared)
    comparison = store.new_comparison(c.name, base.session_id, cand.session_id)
    return Pair(base, cand, comparison, None, look=reached[-1], prepared=prepared)


def _next_round(c, looks: tuple[Look, ...], reached: list[Look], base: Side, cand: Side,
                base_values, mode: str):
    """The `more` callback of an adaptive measurement: runs to add after `done` per side."""
    from perfgate import gate

    def more(done: int) -> int:
        look = reached[-1]
        if look.final:
            return 0
        names = [m.name for m in c.metrics.all()]
        b = base_values or {n: base.values(n) for n in names}
        verdict = gate.decide(gate.Samples(b), gate.Samples({n: cand.values(n) for n in names}),
                              c, mode=mode, look=look)   # type: ignore[arg-type]
        if verdict.verdict != "inconclusive":
            return 0
        reached.append(looks[look.number])
        return reached[-1].runs - done
    return more


def _reuse_baseline(ws: Workspace, store, base: Side, allow_mismatch: bool) -> None:
    """--no-interleave: the stored baseline, only if it was measured on a machine like this one."""
    found = store.latest_session(ws.name, "baseline", contract_digest=ws.contract.digest())
    if found is None or found.get("commit_sha") != base.commit:
        raise UsageError(f"no complete baseline of {ws.name} at {base.commit[:12]} in the store: "
                         f"run `perfgate baseline {ws.handle}` or drop --no-interleave")
    stored = found["fingerprint"]
    if isinstance(stored, str):
        import json

        stored = json.loads(stored)
    stored = {k: v for k, v in stored.items() if k != "environment"}  # load etc. vary by design
    here = harness.fingerprint()
    differ = sorted(k for k in set(stored) | set(here) if stored.get(k) != here.get(k))
    if differ and not allow_mismatch:
        k = differ[0]
        raise UsageError(f"the stored baseline (session {found['id']}) was measured with {k} = "
                         f"{stored.get(k)!r}, this machine has {here.get(k)!r}; re-measure "
                         "interleaved, or pass --allow-fingerprint-mismatch")
    base.session_id = found["id"]
    base.records = []  # values come from the store by session id


def write(ws: Workspace, pair: Pair, epoch: int) -> Artifact:
    """measuring.md: the two sessions and their numbers (from SQL over the store)."""
    result = "broken" if pair.verify_failure else ("failed" if pair.run_failure else "done")
    meta = {"epoch": epoch, "result": result, "contract": ws.name,
            "base_commit": pair.base.commit, "candidate_tree": pair.candidate.tree,
            "candidate_commit": pair.candidate.commit,
            "base_session": pair.base.session_id or None,
            "candidate_session": pair.candidate.session_id or None,
            "comparison": pair.comparison_id, "verify_failure": pair.verify_failure,
            "run_failure": dataclasses.asdict(pair.run_failure) if pair.run_failure else None,
            "look": dataclasses.asdict(pair.look) if pair.look else None,
            "prepared": pair.prepared or None}
    lines = [f"# Measuring: {ws.name}", "",
             f"- baseline: `{pair.base.commit}` ({ws.display(pair.base.cwd)})",
             f"- candidate: tree `{pair.candidate.tree}` ({ws.display(pair.candidate.cwd)})"]
    if ws.contract.setup or ws.contract.build:
        lines += [f"- set-up and build, {label}: {what}" for label, what in pair.prepared.items()]
    if pair.verify_failure:
        lines += ["", f"**{pair.verify_failure}** — the candidate was not measured.", ""]
    elif pair.run_failure:
        lines += ["", f"**{pair.run_failure.message}** — the measurement stopped there.", ""]
    else:
        store = ws.project.store()
        units = {m.name: m.unit for m in ws.contract.metrics.all()}
        for label, side in (("Baseline", pair.base), ("Candidate", pair.candidate)):
            lines += ["", f"## {label} (session {side.session_id})", "",
                      report.summary_table(store.summary(side.session_id), units)]
        lines.append("")
    art = Artifact(meta, "\n".join(lines))
    artifacts.write_artifact(ws.artifact("measuring"), art)
    return art


def sides_for_worktrees(ws: Workspace, base_commit: str, cand_tree_dir: Path,
                        cand_commit: str | None) -> tuple[Side, Side]:
    root = vcs.repo_root(ws.root)
    base_dir = vcs.ensure_worktree(root, ws.base_tree, base_commit)
    base = Side("baseline", "baseline", base_dir, base_commit, vcs.tree_hash(base_dir))
    cand = Side("candidate", "candidate", cand_tree_dir, cand_commit, vcs.tree_hash(cand_tree_dir))
    return base, cand


def run(ws: Workspace, *, interleave: bool = True, allow_mismatch: bool = False,
        progress=None, adaptive: bool | None = None) -> Artifact:
    """`doit measuring`: the perfgate work tree against the last accepted commit."""
    state = approval.require(ws)
    root = vcs.repo_root(ws.root)
    work = vcs.ensure_worktree(root, ws.work_tree, state.head, branch=ws.branch)
    base, cand = sides_for_worktrees(ws, state.head, work, vcs.head(work))
    if cand.tree == base.tree:
        raise UsageError(f"nothing to gate: {ws.display(work)} is identical to the last accepted "
                         f"commit {state.head[:12]}; edit it, or use --from-checkout")
    state.status = Status.MEASURING
    state_mod.write(ws.state_path, state)
    pair = measure_pair(ws, base, cand, interleave=interleave, allow_mismatch=allow_mismatch,
                        progress=progress, adaptive=adaptive)
    return write(ws, pair, state.epoch)


def read_pair(ws: Workspace, art: Artifact) -> Pair:
    """Rebuild what gating needs from measuring.md's front matter."""
    m = art.meta
    base = Side("baseline", "baseline", ws.base_tree, m.get("base_commit"), None,
                session_id=m.get("base_session") or 0)
    cand = Side("candidate", "candidate", ws.work_tree, m.get("candidate_commit"),
                m.get("candidate_tree"), session_id=m.get("candidate_session") or 0)
    look = Look(**m["look"]) if m.get("look") else None
    failure = RunFailure(**m["run_failure"]) if m.get("run_failure") else None
    return Pair(base, cand, m.get("comparison"), m.get("verify_failure"), failure, look)
