"""Stage 2, baseline: warmup + N runs of the repro on the base commit, in its own worktree."""
from __future__ import annotations

import datetime as dt

from perfgate import approval, artifacts, report, secrets, vcs
from perfgate import state as state_mod
from perfgate.artifacts import Artifact
from perfgate.sessions import Recorder, Side
from perfgate.state import Status
from perfgate.workspace import Workspace


def baseline(ws: Workspace, *, progress=None) -> Artifact:
    """Measure the approved contract's base commit and write baseline.md (result: done)."""
    contract = ws.contract
    state = approval.require(ws)
    root = vcs.repo_root(ws.root)
    base = vcs.ensure_worktree(root, ws.base_tree, state.base_commit)
    secret_values = secrets.load(contract.secrets_file_path, ws.root, source=str(ws.contract_path))
    store = ws.project.store()
    state.status = Status.BASELINE
    state_mod.write(ws.state_path, state)
    side = Side("baseline", "baseline", base, state.base_commit, vcs.tree_hash(base))
    rec = Recorder(store, contract, secrets.environment(secret_values),
                   redact=secrets.redactions(secret_values), progress=progress)
    rec.measure([side], warmup=contract.repro.warmup_runs, runs=contract.repro.measurement_runs)
    summaries = store.summary(side.session_id)
    meta = {"epoch": state.epoch, "result": "done", "contract": contract.name,
            "contract_digest": contract.digest(), "base_commit": state.base_commit,
            "session": side.session_id,
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    art = Artifact(meta, render(ws, side, summaries))
    artifacts.write_artifact(ws.artifact("baseline"), art)
    state.status = Status.BASELINED
    state.baseline_session = side.session_id
    state_mod.write(ws.state_path, state)
    return art


def render(ws: Workspace, side: Side, summaries) -> str:
    c = ws.contract
    units = {m.name: m.unit for m in c.metrics.all()}
    return "\n".join([
        f"# Baseline: {c.name}", "",
        f"- commit: `{side.commit}`", f"- session: {side.session_id} in "
        f"`{ws.display(ws.project.store_path)}`",
        f"- runs: {c.repro.warmup_runs} warmup + {c.repro.measurement_runs} measured",
        f"- primary: {c.metrics.primary.name} "
        f"({'lower' if c.metrics.primary.lower_is_better else 'higher'} is better)", "",
        report.summary_table(summaries, units), "",
        "Query the raw samples:", "",
        "```sql",
        f"SELECT metric, value FROM samples WHERE session_id = {side.session_id} ORDER BY metric;",
        "```", ""])
