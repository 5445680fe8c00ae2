"""The hard gate: nothing is measured for real until the user approved the current scoping.

An approval holds for one scoping epoch and one exact contract (its digest): editing the
contract, or scoping it again, withdraws it.
"""
from __future__ import annotations

import datetime as dt

from perfgate import artifacts
from perfgate import state as state_mod
from perfgate.errors import UsageError
from perfgate.state import Approval, State, Status
from perfgate.workspace import Workspace


def _scoped(ws: Workspace) -> tuple[artifacts.Artifact, State]:
    """The current scoping.md and the state, or a one-line error saying what to run."""
    state = state_mod.read(ws.state_path, ws.name)
    art = artifacts.read_artifact(ws.artifact("scoping"))
    if art is None or state.scoping_epoch is None or art.epoch != state.scoping_epoch:
        raise UsageError(f"contract {ws.name} has not been scoped: run `perfgate scope {ws.handle}`")
    if art.meta.get("contract_digest") != ws.contract.digest():
        raise UsageError(f"{ws.display(ws.contract_path)} changed since it was scoped; the "
                         f"approval no longer holds: run `perfgate scope {ws.handle}` again")
    return art, state


def approve(ws: Workspace) -> State:
    """Mark the current scoping approved, after checking that it still holds and passed."""
    art, state = _scoped(ws)
    if art.meta.get("preflight") != "passed":
        raise UsageError(f"{ws.display(ws.artifact('scoping'))}: the pre-flight failed; fix the "
                         f"repro or contract and run `perfgate scope {ws.handle}` again")
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    art.meta["result"] = "approved"
    art.meta["approved_at"] = at
    artifacts.write_artifact(ws.artifact("scoping"), art)
    state.approval = Approval(art.epoch, ws.contract.digest(), at)
    state.status = Status.APPROVED
    state_mod.write(ws.state_path, state)
    return state


def is_approved(ws: Workspace) -> bool:
    try:
        require(ws)
    except UsageError:
        return False
    return True


def require(ws: Workspace) -> State:
    """The state, if the current contract was approved; else a one-line error."""
    art, state = _scoped(ws)
    ok = state.approval is not None and state.approval == Approval(
        art.epoch, ws.contract.digest(), state.approval.approved_at)
    if state.approval is None and art.result == "approved":
        # A state.yaml of perfgate 0.1 kept the approval only in scoping.md.
        state.approval = Approval(art.epoch, ws.contract.digest(),
                                  str(art.meta.get("approved_at", "")))
        ok = True
    if not ok:
        raise UsageError(f"contract {ws.name} is not approved: review "
                         f"{ws.display(ws.artifact('scoping'))}, then run "
                         f"`perfgate approve {ws.handle}`")
    return state
