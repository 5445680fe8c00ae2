"""Set-up and build per worktree: each side gets its own dependencies and build, never another
commit's, before anything there is timed.

A worktree's ignored files (node_modules, .venv, target/, dist/) belong to the code they were
made for. A record in the worktree's own git directory says which: the set-up key (the set-up
command and every dependency manifest and lockfile of the tree) and the build key (the build
command, the tree hash and the set-up key). When the set-up key changes, every ignored file
goes and `setup` runs again; when only the code changed, the ignored files the set-up made
stay and everything else ignored goes (an old build, a repro's leftovers) before `build` runs.
The same tree a second time costs nothing. Caches outside the tree that are keyed by content
(npm's cache, Go's build cache, pip's wheels) are shared as the tools share them.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from perfgate import harness, secrets, vcs
from perfgate.errors import MeasurementError
from perfgate.workspace import Workspace

RECORD = "perfgate-prepared.json"
RECORD_VERSION = 1

# What a set-up installs from: the manifests and lockfiles of the stacks perfgate knows, at
# any depth (workspaces, monorepos). Code the tree builds itself belongs in `build`.
MANIFESTS = frozenset({
    "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
    "pnpm-workspace.yaml", "bun.lockb", "bun.lock", ".npmrc", ".yarnrc.yml", ".nvmrc",
    "requirements.txt", "requirements-dev.txt", "constraints.txt", "pyproject.toml",
    "setup.py", "setup.cfg", "poetry.lock", "uv.lock", "Pipfile", "Pipfile.lock", "pdm.lock",
    ".python-version", "Cargo.toml", "Cargo.lock", "rust-toolchain", "rust-toolchain.toml",
    "go.mod", "go.sum", "go.work", "pubspec.yaml", "pubspec.lock", "Gemfile", "Gemfile.lock",
    ".tool-versions",
})


class SetupFailed(MeasurementError):
    """`setup` or `build` failed (or wrote into the tree): one line naming the command."""


@dataclass(frozen=True)
class Prepared:
    """A worktree ready to be timed: its tree, and what had to run to get there."""

    worktree: Path
    tree: str
    ran: tuple[str, ...]          # "setup", "build" (empty: cached, or nothing to run)
    seconds: float
    removed: int                  # ignored entries removed (another commit's, or stale)

    def describe(self) -> str:
        if not self.ran:
            return "up to date (cached for this tree)"
        return f"ran {' and '.join(self.ran)} in {self.seconds:.1f} s"


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def _read(path: Path) -> dict:
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return rec if isinstance(rec, dict) and rec.get("version") == RECORD_VERSION else {}


def ensure(ws: Workspace, worktree: Path) -> Prepared:
    """Make `worktree` ready to be timed: clean what another tree left, run setup and build
    as needed. Raises SetupFailed naming the command; the caller says which side it was."""
    c = ws.contract
    worktree = Path(worktree)
    t0 = time.monotonic()
    tree, manifests = vcs.blobs(worktree, MANIFESTS)
    setup_key = _key(c.setup, sorted(manifests.items()))
    build_key = _key(c.build, tree, setup_key)
    record_path = vcs.private_dir(worktree) / RECORD
    rec = _read(record_path)
    kept = tuple(rec.get("kept") or ())
    if rec.get("build_key") == build_key and all((worktree / p).exists() for p in kept):
        return Prepared(worktree, tree, (), 0.0, 0)
    record_path.unlink(missing_ok=True)   # half-prepared is not prepared
    values = secrets.load(c.secrets_file_path, ws.root, source=str(ws.contract_path))
    env, redact = secrets.environment(values), secrets.redactions(values)
    ran: list[str] = []
    same_deps = rec.get("setup_key") == setup_key and all((worktree / p).exists() for p in kept)
    if same_deps:
        removed = vcs.clean_ignored(worktree, keep=kept)
    else:
        removed = vcs.clean_ignored(worktree)
        if c.setup:
            _run(ws, worktree, "setup", c.setup, env, redact)
            ran.append("setup")
        kept = tuple(vcs.ignored(worktree))
    if c.build:
        _run(ws, worktree, "build", c.build, env, redact)
        ran.append("build")
    after = vcs.tree_hash(worktree) if ran else tree
    if after != tree:
        paths = vcs.changed_paths(worktree, tree, after)
        shown = ", ".join(paths[:5]) + (", …" if len(paths) > 5 else "")
        raise SetupFailed(f"{' and '.join(ran)} changed files that git does not ignore "
                          f"({shown}); add them to .gitignore, or commit them")
    record_path.write_text(json.dumps({"version": RECORD_VERSION, "setup_key": setup_key,
                                       "build_key": build_key, "tree": tree, "kept": kept,
                                       "setup": c.setup, "build": c.build}, indent=1))
    return Prepared(worktree, tree, tuple(ran), time.monotonic() - t0, len(removed))


def _run(ws: Workspace, worktree: Path, step: str, command: str, env, redact) -> None:
    res = harness.run_shell(command, cwd=worktree, env=env, timeout_s=ws.contract.setup_timeout_s,
                            redact=redact, ledger=ws.project.ledger_dir)
    failed = res.failure(f"{step} `{command}`", ws.contract.setup_timeout_s)
    if failed:
        raise SetupFailed(failed)
