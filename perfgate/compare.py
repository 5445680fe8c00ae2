"""`perfgate compare`: gate any two commits, each in its own worktree (the CI use)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from perfgate import approval, artifacts, report, vcs
from perfgate.stages import gating, measuring
from perfgate.workspace import Workspace


def compare(ws: Workspace, base_ref: str, head_ref: str, *, yes: bool = False,
            interleave: bool = True, allow_mismatch: bool = False, mode: str = "improvement",
            progress=None, adaptive: bool | None = None) -> dict[str, Any]:
    """Measure base and head interleaved, decide, record; never commits or resets anything."""
    if not yes:
        approval.require(ws)
    root = vcs.repo_root(ws.root)
    base_sha, head_sha = vcs.resolve(root, base_ref), vcs.resolve(root, head_ref)
    out = ws.dir / "compare"
    base_dir = vcs.ensure_worktree(root, out / "base", base_sha)
    head_dir = vcs.ensure_worktree(root, out / "head", head_sha)
    base = measuring.Side("baseline", "baseline", base_dir, base_sha, vcs.tree_hash(base_dir))
    head = measuring.Side("candidate", "candidate", head_dir, head_sha, vcs.tree_hash(head_dir))
    pair = measuring.measure_pair(ws, base, head, interleave=interleave,
                                  allow_mismatch=allow_mismatch, progress=progress,
                                  adaptive=adaptive, mode=mode)
    verdict = gating.judge(ws, pair, mode)
    doc = gating.document(ws, pair, verdict)
    gating.record(ws, pair, verdict, doc)
    plot = None
    if not (pair.verify_failure or pair.run_failure) and verdict.primary is not None:
        plot = gating.plot_samples(ws, pair, out / "compare.png", f"{ws.name}: {verdict.verdict}",
                                   verdict=verdict)
    artifacts.write_atomic(out / "verdict.json", report.json_document(doc))
    artifacts.write_atomic(out / "compare.md", report.verdict_markdown(
        f"{ws.name} ({base_ref} → {head_ref})", doc, plot="compare.png" if plot else None))
    return doc


def publish_summary(ws: Workspace, doc: dict[str, Any], base_ref: str, head_ref: str,
                    summary_file: Path | None = None) -> str:
    """The Markdown summary, appended to --summary FILE and to $GITHUB_STEP_SUMMARY if set."""
    png = ws.dir / "compare" / "compare.png"
    md = report.summary_markdown(doc, title=f"{ws.name}: `{base_ref}` → `{head_ref}`",
                                 plot=str(png) if png.exists() else None)
    for target in filter(None, [summary_file, os.environ.get("GITHUB_STEP_SUMMARY")]):
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(md)
    return md
