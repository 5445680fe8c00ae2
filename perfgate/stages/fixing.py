"""Stage 5, fixing: put a candidate change into the perfgate work tree (from a fixer or the user)."""
from __future__ import annotations

from perfgate import vcs
from perfgate.errors import UsageError
from perfgate.stages import scoping
from perfgate.workspace import Workspace


def take_checkout(ws: Workspace) -> str:
    """`gate --from-checkout`: copy the user's uncommitted changes into the work tree.

    The user's files, index and HEAD are only read. Returns the candidate's tree hash.
    """
    state = scoping.require_approved(ws)
    accepted = state.extra.get("accepted_commit") or state.base_commit
    root = vcs.repo_root(ws.root)
    work = vcs.ensure_worktree(root, ws.work_tree, accepted, branch=ws.branch)
    pending = vcs.dirty(work)
    if pending:
        raise UsageError(f"{ws.display(work)} already holds an ungated change ({len(pending)} "
                         f"file(s)); gate it first with `perfgate gate {ws.name}`")
    before = vcs.tree_hash(work)
    vcs.copy_changes(root, work)
    after = vcs.tree_hash(work)
    if after == before:
        raise UsageError(f"--from-checkout: {root} has no uncommitted changes to gate")
    return after
