"""Git: worktrees, candidate identity (tree hashes), commits, archived patches and refs.

Every git call goes through harness.call with an argv list, never a shell string, so hostile
text in messages, refs or paths is data. The user's checkout is only ever read.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from perfgate import harness
from perfgate.errors import PerfgateError, UsageError

IDENTITY = ("-c", "user.name=perfgate", "-c", "user.email=perfgate@localhost")


def _git(cwd: Path, *args: str, env: Mapping[str, str] | None = None,
         input: bytes | None = None, check: bool = True) -> harness.Called:
    res = harness.call(["git", *args], cwd=cwd, env=env, input=input)
    if check and res.returncode != 0:
        first = (res.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"])[0]
        raise PerfgateError(f"git {args[0]} failed: {first}")
    return res


def _out(cwd: Path, *args: str, **kw) -> str:
    return _git(cwd, *args, **kw).stdout.decode(errors="replace").strip()


def repo_root(path: Path) -> Path:
    """The top level of the repository containing path; it must have at least one commit."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"{path}: no such directory")
    res = _git(path, "rev-parse", "--show-toplevel", check=False)
    if res.returncode != 0:
        raise UsageError(f"{path}: not a git repository (perfgate needs one: git init && "
                         "git commit)")
    root = Path(res.stdout.decode().strip())
    if _git(root, "rev-parse", "--verify", "-q", "HEAD", check=False).returncode != 0:
        raise UsageError(f"{root}: the repository has no commits yet")
    return root


def head(root: Path) -> str:
    return _out(root, "rev-parse", "HEAD")


def current_branch(root: Path) -> str | None:
    res = _git(root, "symbolic-ref", "-q", "--short", "HEAD", check=False)
    return res.stdout.decode().strip() or None if res.returncode == 0 else None


def resolve(root: Path, ref: str) -> str:
    res = _git(root, "rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}",
               check=False)
    if res.returncode != 0:
        raise UsageError(f"ref {ref!r} does not exist in {root}")
    return res.stdout.decode().strip()


def dirty(root: Path) -> list[str]:
    """`git status --porcelain` lines: what makes a checkout dirty."""
    out = _git(root, "status", "--porcelain", "--untracked-files=all").stdout.decode(
        errors="replace")
    return [line for line in out.splitlines() if line.strip()]


def _exclude_perfgate(root: Path) -> None:
    """Keep .perfgate/ out of the user's `git status` without editing their .gitignore."""
    info = Path(_out(root, "rev-parse", "--git-common-dir"))
    info = (info if info.is_absolute() else root / info) / "info" / "exclude"
    text = info.read_text() if info.exists() else ""
    if "/.perfgate/" not in text.splitlines():
        info.parent.mkdir(parents=True, exist_ok=True)
        info.write_text(text + ("" if text.endswith("\n") or not text else "\n") + "/.perfgate/\n")


def ensure_worktree(root: Path, path: Path, commit: str, *, branch: str | None = None) -> Path:
    """A perfgate worktree at path: detached at commit, or on branch (created at commit)."""
    root, path = Path(root), Path(path)
    _exclude_perfgate(root)
    if path.is_dir() and (path / ".git").exists():
        if branch is None:
            # A detached tree only ever measures a commit: what a failed build or a killed run
            # left in it (untracked, not ignored: a Cargo.lock) must neither block the next
            # checkout nor be measured. Ignored files stay; prepare keys and cleans those.
            _git(path, "clean", "-q", "-ffd")
            if head(path) != commit:
                _git(path, "checkout", "-q", "--force", "--detach", commit)
        return path
    _git(root, "worktree", "prune")
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if branch is None:
        _git(root, "worktree", "add", "-q", "--detach", str(path), commit)
    elif _git(root, "rev-parse", "--verify", "-q", f"refs/heads/{branch}",
              check=False).returncode == 0:
        _git(root, "worktree", "add", "-q", str(path), branch)
    else:
        _git(root, "worktree", "add", "-q", "-b", branch, str(path), commit)
    return path


@contextmanager
def _temp_index(worktree: Path) -> Iterator[dict[str, str]]:
    """An environment whose index is a throwaway copy holding the work tree's full content."""
    real = Path(_out(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    fd, tmp = tempfile.mkstemp(prefix="perfgate-index-")
    os.close(fd)
    try:
        if real.exists():
            # copy2 keeps the index's mtime: git's racy-entry check compares it with each
            # file's, so an edit in the same second as the last checkout (same size) is still
            # seen. A fresh mtime would hide it and the candidate's tree would be wrong.
            shutil.copy2(real, tmp)
        else:
            os.unlink(tmp)
        env = {**os.environ, "GIT_INDEX_FILE": tmp}
        _git(worktree, "add", "-A", "--", ".", env=env)
        yield env
    finally:
        Path(tmp).unlink(missing_ok=True)


def tree_hash(worktree: Path) -> str:
    """The tree of the work tree's current content, untracked files included: a candidate's id."""
    with _temp_index(worktree) as env:
        return _out(worktree, "write-tree", env=env)


def diff(worktree: Path, against: str) -> bytes:
    """A binary patch from commit `against` to the work tree's current content."""
    with _temp_index(worktree) as env:
        return _git(worktree, "diff", "--cached", "--binary", "--full-index", against,
                    env=env).stdout


def _identity_args(worktree: Path) -> tuple[str, ...]:
    has = all(_git(worktree, "config", key, check=False).returncode == 0
              for key in ("user.name", "user.email"))
    return () if has else IDENTITY


def commit_all(worktree: Path, message: str) -> str:
    """Stage everything and commit; the message goes through stdin, so any text is safe."""
    _git(worktree, "add", "-A", "--", ".")
    _git(worktree, *_identity_args(worktree), "commit", "-q", "--no-verify", "--allow-empty",
         "-F", "-", input=message.encode("utf-8", errors="surrogateescape"))
    return head(worktree)


def archive(worktree: Path, *, base: str, patch_path: Path, ref: str, message: str) -> str:
    """Save the candidate before anything resets it: a patch file and a commit under `ref`."""
    from perfgate.artifacts import write_atomic

    write_atomic(Path(patch_path), diff(worktree, base))
    with _temp_index(worktree) as env:
        tree = _out(worktree, "write-tree", env=env)
    sha = _out(worktree, *_identity_args(worktree), "commit-tree", tree, "-p", base, "-F", "-",
               input=message.encode("utf-8", errors="surrogateescape"))
    _git(worktree, "update-ref", ref, sha)
    return sha


def _perfgate_worktree(worktree: Path, doing: str) -> Path:
    """The worktree's resolved path; refuses the user's own checkout (only ever read)."""
    worktree = Path(worktree).resolve()
    common = Path(_out(worktree, "rev-parse", "--path-format=absolute", "--git-common-dir"))
    if worktree == common.parent.resolve():
        raise PerfgateError(f"refusing to {doing} {worktree}: it is the user's own checkout")
    return worktree


def reset(worktree: Path, commit: str) -> None:
    """Throw away the work tree's changes (archive them first), ignored files included: a
    rejected candidate's dependencies and build must not outlive it. Never on the user's
    checkout."""
    worktree = _perfgate_worktree(worktree, "reset")
    _git(worktree, "reset", "-q", "--hard", commit)
    _git(worktree, "clean", "-q", "-ffdx")


def private_dir(worktree: Path) -> Path:
    """The worktree's own directory inside .git (it goes when the worktree goes)."""
    return Path(_out(worktree, "rev-parse", "--absolute-git-dir"))


def ignored(worktree: Path) -> list[str]:
    """Ignored files and directories (a directory as one `dir/` entry), relative paths."""
    out = _git(worktree, "ls-files", "-z", "--others", "--ignored", "--exclude-standard",
               "--directory").stdout.decode(errors="surrogateescape")
    return sorted(p for p in out.split("\0") if p)


def clean_ignored(worktree: Path, keep: tuple[str, ...] = ()) -> list[str]:
    """Remove the worktree's ignored files (dependencies, builds, outputs) except `keep`;
    untracked files that git does not ignore are a candidate's and stay. Never on the user's
    checkout. Returns what was removed."""
    worktree = _perfgate_worktree(worktree, "clean")
    gone = [p for p in ignored(worktree) if p not in keep]
    if not keep:
        _git(worktree, "clean", "-q", "-ffdX")
        return gone
    for rel in gone:
        path = worktree / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return gone


def blobs(worktree: Path, names: frozenset[str]) -> tuple[str, dict[str, str]]:
    """(the tree hash, {path: blob id} of the files named one of `names`, at any depth), both
    of the work tree's current content, untracked files included."""
    with _temp_index(worktree) as env:
        tree = _out(worktree, "write-tree", env=env)
        listing = _git(worktree, "ls-files", "-s", "-z", env=env).stdout.decode(
            errors="surrogateescape")
    found = {}
    for entry in filter(None, listing.split("\0")):
        meta, _, path = entry.partition("\t")
        if path.rsplit("/", 1)[-1] in names:
            found[path] = meta.split()[1]
    return tree, found


def copy_changes(src_root: Path, dst_worktree: Path) -> None:
    """Apply src's uncommitted changes (untracked files included) to dst; src is only read."""
    patch = diff(src_root, "HEAD")
    if not patch:
        return
    res = _git(dst_worktree, "apply", "--binary", "--whitespace=nowarn", "-", input=patch,
               check=False)
    if res.returncode != 0:
        first = (res.stderr.decode(errors="replace").strip().splitlines() or [""])[0]
        raise UsageError(f"your uncommitted changes do not apply to {dst_worktree}: {first}")


def check_repo(root: Path) -> list[str]:
    """Warnings about repository shapes that measurements may not reproduce."""
    warnings = []
    if (root / ".gitmodules").exists():
        warnings.append("the repository has submodules; worktrees do not check them out")
    attrs = root / ".gitattributes"
    if attrs.exists() and "filter=lfs" in attrs.read_text(errors="replace"):
        warnings.append("the repository uses Git LFS; worktrees may hold pointer files")
    if current_branch(root) is None:
        warnings.append("HEAD is detached")
    return warnings


def changed_paths(worktree: Path, tree_a: str, tree_b: str) -> list[str]:
    """Paths that differ between two trees (the repro wrote into the tree if any)."""
    out = _out(worktree, "diff-tree", "-r", "--name-only", tree_a, tree_b)
    return [line for line in out.splitlines() if line]


def first_parent_range(root: Path, good: str, bad: str) -> list[str]:
    """good, then every commit on bad's first-parent line after it, oldest first (bad last).

    A linear order is what a metric along the commits needs; the merges of side branches are
    steps on this line, as they were for the branch's users."""
    if good == bad:
        raise UsageError(f"--good and --bad are the same commit ({good[:12]})")
    if _git(root, "merge-base", "--is-ancestor", good, bad, check=False).returncode != 0:
        raise UsageError(f"{good[:12]} (good) is not an ancestor of {bad[:12]} (bad)")
    after = _out(root, "rev-list", "--first-parent", "--reverse", f"{good}..{bad}").split()
    if _out(root, "rev-parse", f"{after[0]}^1") != good:
        raise UsageError(f"{good[:12]} (good) is not on the first-parent line of {bad[:12]} "
                         "(bad); pick a commit of that branch")
    return [good, *after]


def history_line(root: Path, ref: str, last: int) -> list[str]:
    """The last `last` commits on ref's first-parent line, oldest first."""
    return _out(root, "rev-list", "--first-parent", "--reverse", "-n", str(last), ref).split()


def describe(root: Path, shas: list[str]) -> dict[str, dict[str, str]]:
    """sha -> {tree, subject, author, date} for each commit, in one git call."""
    if not shas:
        return {}
    out = _out(root, "log", "--no-walk=unsorted", "--format=%H%x1f%T%x1f%s%x1f%an <%ae>%x1f%cI",
               *shas)
    info = {}
    for row in out.splitlines():
        sha, tree, subject, author, date = row.split("\x1f")
        info[sha] = {"tree": tree, "subject": subject, "author": author, "date": date}
    return info


def remove_worktree(root: Path, path: Path) -> None:
    """Drop a perfgate worktree (its directory and git's record of it)."""
    if Path(path).exists():
        _git(root, "worktree", "remove", "--force", str(path), check=False)
        shutil.rmtree(path, ignore_errors=True)
    _git(root, "worktree", "prune", check=False)
