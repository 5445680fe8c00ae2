"""Stage 7, gating: decide from the stored samples, record the decision, keep or archive the change."""
from __future__ import annotations

import json
from typing import Any

from perfgate import approval, artifacts, gate, report, vcs
from perfgate import state as state_mod
from perfgate.artifacts import Artifact
from perfgate.errors import UsageError
from perfgate.stages import measuring
from perfgate.stages.measuring import Pair
from perfgate.state import Attempt, Status
from perfgate.workspace import Workspace


def judge(ws: Workspace, pair: Pair, mode: gate.Mode = "improvement") -> gate.Verdict:
    """The pure decision over the samples as stored (what SQL sees is what decides)."""
    c = ws.contract
    if c.suite is not None:
        return _judge_suite(ws, pair, mode)
    if pair.verify_failure:
        empty = gate.Samples(values={})
        return gate.decide(empty, empty, c, verify_failure=pair.verify_failure, look=pair.look)
    if pair.run_failure:
        if pair.run_failure.role == pair.base.role != pair.candidate.role:
            raise measuring.base_failed(pair.base, pair.run_failure.message)
        failed = gate.Samples(values={}, failures=(pair.run_failure.message,))
        empty = gate.Samples(values={})
        return gate.decide(empty, failed, c, look=pair.look)
    b, cnd = _values(ws, pair)
    base = gate.Samples(b, failures=tuple(pair.base.problems))
    cand = gate.Samples(cnd, failures=tuple(pair.candidate.problems))
    return gate.decide(base, cand, c, mode=mode, look=pair.look)


def _judge_suite(ws: Workspace, pair: Pair, mode: gate.Mode) -> gate.Verdict:
    from perfgate import suite_gate

    c = ws.contract
    empty = suite_gate.SuiteSamples({})
    if pair.verify_failure:
        return suite_gate.decide(empty, empty, c, verify_failure=pair.verify_failure,
                                 look=pair.look)
    if pair.run_failure:
        failed = suite_gate.SuiteSamples({}, failures=(pair.run_failure.message,))
        on_candidate = pair.run_failure.role == pair.candidate.role
        return suite_gate.decide(*((empty, failed) if on_candidate else (failed, empty)), c,
                                 look=pair.look)
    b, cnd = suite_gate.stored_samples(ws.project.store(),
                                       [pair.base.session_id, pair.candidate.session_id], c)
    return suite_gate.decide(b, cnd, c, mode=mode, look=pair.look)


def _values(ws: Workspace, pair: Pair) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Both sessions' values of every metric of the contract, as stored."""
    names = [m.name for m in ws.contract.metrics.all()]
    ids = (pair.base.session_id, pair.candidate.session_id)
    values = ws.project.store().values(ids, names)
    return values[ids[0]], values[ids[1]]


def document(ws: Workspace, pair: Pair, verdict: gate.Verdict) -> dict[str, Any]:
    doc = verdict.to_document(
        contract=ws.name,
        base={"commit": pair.base.commit, "session": pair.base.session_id or None},
        candidate={"commit": pair.candidate.commit, "tree": pair.candidate.tree,
                   "session": pair.candidate.session_id or None})
    doc["warnings"] = base_warnings(ws, pair)
    return doc


def base_warnings(ws: Workspace, pair: Pair) -> list[str]:
    """The base commit as measured in this gate against its own earlier baseline session: when
    the two are far apart beyond the noise, they did not run the same thing (the issue's
    worktree that borrowed the user's node_modules measured 0.14 s, its baseline 0.42 s)."""
    from perfgate import stats

    if pair.comparison_id is None or not pair.base.session_id or not pair.base.commit:
        return []
    store = ws.project.store()
    earlier = store.latest_session(ws.name, "baseline", contract_digest=ws.contract.digest(),
                                   commit_sha=pair.base.commit, before_id=pair.base.session_id)
    if earlier is None:
        return []
    prim = ws.contract.metrics.primary
    values = store.values([earlier["id"], pair.base.session_id], [prim.name])
    then, now = values[earlier["id"]][prim.name], values[pair.base.session_id][prim.name]
    ratio = stats.same_code_disagree(then, now)
    if ratio is None:
        return []
    import statistics

    return [f"the base commit {pair.base.commit[:12]} measured {report.num(statistics.median(now))}"
            f" {prim.unit} in this gate but {report.num(statistics.median(then))} {prim.unit} in "
            f"its baseline (session {earlier['id']}), {max(ratio, 1 / ratio):.2g}x apart, far "
            "beyond the noise: the two did not run the same thing (dependencies or a build "
            "from another commit? a changed machine?); do not trust this verdict"]


def record(ws: Workspace, pair: Pair, verdict: gate.Verdict, doc: dict[str, Any]) -> int:
    p = verdict.primary
    return ws.project.store().record_decision(
        contract=ws.name, comparison_id=pair.comparison_id,
        base_session=pair.base.session_id or None,
        candidate_session=pair.candidate.session_id or None, verdict=verdict.verdict,
        metric=ws.contract.metrics.primary.name,
        baseline_median=p.baseline_median if p else None,
        candidate_median=p.candidate_median if p else None,
        change_pct=p.change_pct if p else None, p_value=p.p_value if p else None,
        ci_low=p.ci_low if p else None, ci_high=p.ci_high if p else None,
        test=ws.contract.significance.test, alpha=p.alpha if p else ws.contract.significance.alpha,
        n_baseline=p.n_baseline if p else 0, n_candidate=p.n_candidate if p else 0,
        reasons=json.dumps(list(verdict.reasons)), document=json.dumps(doc),
        looks=doc["sequential"]["looks"], runs_per_side=doc["sequential"]["runs_per_side"])


def commit_message(ws: Workspace, verdict: gate.Verdict, label: str) -> str:
    p = verdict.primary
    head = f"perfgate({ws.name}): {label}"
    if p is None:
        return head
    return (f"{head}\n\n{p.name}: {report.num(p.baseline_median)} -> "
            f"{report.num(p.candidate_median)} {p.unit} ({p.change_pct:+.1f}% better), "
            f"p = {report.num(p.p_value, 3)} ({p.test}), n = {p.n_baseline} vs {p.n_candidate}, "
            f"95% CI of the ratio [{report.num(p.ci_low, 3)}, {report.num(p.ci_high, 3)}]\n")


def act(ws: Workspace, verdict: gate.Verdict, *, accepted_commit: str, iteration: int,
        label: str) -> dict[str, str | None]:
    """Accepted: commit on perfgate/<name>. Rejected: archive (patch + ref) first, then reset."""
    work = ws.work_tree
    if verdict.verdict == "accepted":
        sha = vcs.commit_all(work, commit_message(ws, verdict, label))
        return {"commit": sha, "patch": None, "ref": None}
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in label)[:60] or "change"
    patch = ws.dir / "rejected" / f"{iteration}-{safe}.patch"
    ref = f"refs/perfgate/rejected/{ws.name}/{iteration}"
    vcs.archive(work, base=accepted_commit, patch_path=patch, ref=ref,
                message=commit_message(ws, verdict, f"rejected: {label}") +
                "\n" + "\n".join(verdict.reasons) + "\n")
    vcs.reset(work, accepted_commit)
    return {"commit": None, "patch": ws.display(patch), "ref": ref}


def write(ws: Workspace, verdict: gate.Verdict, doc: dict[str, Any], *, epoch: int,
          pair: Pair, outcome: dict[str, str | None] | None = None) -> Artifact:
    """gating.md, verdict.json and the plot of both samples."""
    artifacts.write_atomic(ws.dir / "verdict.json", report.json_document(doc))
    plot_name = None
    if not (pair.verify_failure or pair.run_failure) and verdict.primary is not None:
        plot_name = "gating.png"
        plot_samples(ws, pair, ws.dir / plot_name, title=f"{ws.name}: {verdict.verdict}",
                     verdict=verdict)
    meta = {"epoch": epoch, "result": verdict.verdict, "contract": ws.name,
            "base_session": pair.base.session_id or None,
            "candidate_session": pair.candidate.session_id or None,
            "candidate_tree": pair.candidate.tree}
    if outcome:
        meta.update({k: v for k, v in outcome.items() if v})
    body = report.verdict_markdown(ws.name, doc, plot=plot_name)
    art = Artifact(meta, body)
    artifacts.write_artifact(ws.artifact("gating"), art)
    return art


def plot_samples(ws: Workspace, pair: Pair, path, title: str, verdict=None):
    """Both samples of every metric, from the store, as a PNG; for a suite, every
    benchmark's ratio with its CI."""
    from perfgate import plot

    if getattr(verdict, "benchmarks", None):
        return plot.ratios(verdict, path, title=title)

    base, cand = _values(ws, pair)
    return plot.samples({n: (base[n], cand[n]) for n in base}, path, title=title)


def run(ws: Workspace, *, label: str | None = None, progress=None) -> dict[str, Any]:
    """`doit gating`: decide on the current measuring.md, act, write gating.md; returns the document."""
    state = approval.require(ws)
    art = state.current(artifacts.read_artifact(ws.artifact("measuring")))
    if art is None:
        raise UsageError(f"no current measurement of {ws.name} to gate: run `perfgate gate "
                         f"{ws.name}`")
    pair = measuring.read_pair(ws, art)
    verdict = judge(ws, pair)
    doc = document(ws, pair, verdict)
    record(ws, pair, verdict, doc)
    state.iteration += 1
    hotspot, state.hotspot = state.hotspot, None
    label = label or hotspot or f"candidate-{(pair.candidate.tree or '')[:8]}"
    outcome = act(ws, verdict, accepted_commit=state.head, iteration=state.iteration, label=label)
    write(ws, verdict, doc, epoch=state.epoch, pair=pair, outcome=outcome)
    if outcome.get("commit"):
        state.accepted_commit = outcome["commit"]
    p = verdict.primary
    state.tried.append(Attempt(verdict.verdict, hotspot=hotspot, label=label,
                               iteration=state.iteration,
                               change_pct=p.change_pct if p else None,
                               p_value=p.p_value if p else None,
                               reason=verdict.reasons[0] if verdict.reasons else None,
                               commit=outcome["commit"], patch=outcome["patch"],
                               ref=outcome["ref"]))
    state.status = Status(verdict.verdict)
    state.epoch += 1  # a transition: this measuring.md must never drive another decision
    state_mod.write(ws.state_path, state)
    return doc
