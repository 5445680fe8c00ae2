"""Git plumbing on real repositories: worktrees, tree hashes, archive + reset, nothing lost."""
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfgate import vcs
from perfgate.errors import PerfgateError, UsageError
from tests.conftest import git, snapshot


def test_worktrees_are_created_reused_and_recreated(repo):
    before = snapshot(repo)
    head = vcs.head(repo)
    base = vcs.ensure_worktree(repo, repo / ".perfgate" / "w" / "base", head)
    assert (base / "work.py").exists() and vcs.head(base) == head
    assert vcs.ensure_worktree(repo, base, head) == base
    work = vcs.ensure_worktree(repo, repo / ".perfgate" / "w" / "work", head, branch="perfgate/w")
    assert vcs.current_branch(work) == "perfgate/w"
    import shutil

    shutil.rmtree(base)
    assert vcs.head(vcs.ensure_worktree(repo, base, head)) == head
    assert snapshot(repo) == before
    assert ".perfgate" not in git(repo, "status", "--porcelain")  # excluded, not noise


def test_tree_hash_is_the_candidate_identity(repo):
    work = vcs.ensure_worktree(repo, repo / ".perfgate" / "w" / "work", vcs.head(repo),
                               branch="perfgate/w")
    index = (repo / ".git" / "worktrees" / "work" / "index").read_bytes()
    clean = vcs.tree_hash(work)
    assert clean == git(repo, "rev-parse", "HEAD^{tree}")
    (work / ".gitignore").write_text("*.log\n")
    with_ignore = vcs.tree_hash(work)
    (work / "x.log").write_text("ignored")
    assert vcs.tree_hash(work) == with_ignore != clean
    (work / "new.txt").write_text("untracked counts")
    assert vcs.tree_hash(work) != with_ignore
    assert (repo / ".git" / "worktrees" / "work" / "index").read_bytes() == index


def _edits(work, edits):
    for name, data in edits.items():
        p = work / name
        if data is None:
            p.unlink(missing_ok=True)
        else:
            p.write_bytes(data)


def test_archive_reset_and_reapply_restore_the_exact_tree(repo):
    (repo / "bin.dat").write_bytes(bytes(range(256)))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "binary")
    head = vcs.head(repo)
    work = vcs.ensure_worktree(repo, repo / ".perfgate" / "w" / "work", head, branch="perfgate/w")
    _edits(work, {"bin.dat": bytes(reversed(range(256))), "work.py": None,
                  'we"ird $(rm -rf) name.txt': b"quoted\n", "new\nline.txt": b"x"})
    candidate = vcs.tree_hash(work)
    message = 'rejected: "quotes" $(rm -rf /) `x`\nsecond line'
    sha = vcs.archive(work, base=head, patch_path=repo / ".perfgate" / "w" / "1.patch",
                      ref="refs/perfgate/rejected/w/1", message=message)
    assert git(repo, "rev-parse", "refs/perfgate/rejected/w/1^{tree}") == candidate
    assert git(repo, "log", "-1", "--format=%B", sha) == message
    vcs.reset(work, head)
    assert vcs.tree_hash(work) == vcs.tree_hash(repo) and vcs.dirty(work) == []
    apply_patch(work, repo / ".perfgate" / "w" / "1.patch")
    assert vcs.tree_hash(work) == candidate


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["a.txt", "b.bin", "work.py", "dir/c.txt", "d e.txt"]),
                       st.none() | st.binary(max_size=200), min_size=1, max_size=5))
def test_archive_is_lossless_for_random_edits(repo, edits):
    head = vcs.head(repo)
    work = vcs.ensure_worktree(repo, repo / ".perfgate" / "h" / "work", head, branch="perfgate/h")
    vcs.reset(work, head)
    (work / "dir").mkdir(exist_ok=True)
    _edits(work, edits)
    candidate = vcs.tree_hash(work)
    patch = repo / ".perfgate" / "h" / "x.patch"
    vcs.archive(work, base=head, patch_path=patch, ref="refs/perfgate/rejected/h/x", message="m")
    vcs.reset(work, head)
    if patch.stat().st_size:
        apply_patch(work, patch)
    assert vcs.tree_hash(work) == candidate


def apply_patch(worktree, patch) -> None:
    """What a user does to bring an archived attempt back."""
    git(worktree, "apply", "--binary", "--whitespace=nowarn", str(patch))


def test_copy_changes_leaves_the_checkout_alone(repo):
    (repo / "work.py").write_text("print('changed')\n")
    (repo / "untracked.txt").write_text("new\n")
    before = snapshot(repo)
    work = vcs.ensure_worktree(repo, repo / ".perfgate" / "w" / "work", vcs.head(repo),
                               branch="perfgate/w")
    vcs.copy_changes(repo, work)
    assert (work / "work.py").read_text() == "print('changed')\n"
    assert (work / "untracked.txt").read_text() == "new\n"
    assert snapshot(repo) == before


def test_commit_without_a_configured_identity(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for k in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(k, raising=False)
    work = vcs.ensure_worktree(repo, repo / ".perfgate" / "w" / "work", vcs.head(repo),
                               branch="perfgate/w")
    (work / "work.py").write_text("print(1)\n")
    sha = vcs.commit_all(work, "perfgate: accepted\n\nwall_time -50%")
    assert git(repo, "log", "-1", "--format=%an %s", sha) == "perfgate perfgate: accepted"


def test_errors(tmp_path, repo):
    with pytest.raises(UsageError) as exc:
        vcs.repo_root(tmp_path)
    assert str(exc.value) == (f"{tmp_path}: not a git repository (perfgate needs one: git init "
                              "&& git commit)")
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=empty, check=True)
    with pytest.raises(UsageError, match="has no commits yet"):
        vcs.repo_root(empty)
    with pytest.raises(UsageError) as exc:
        vcs.resolve(repo, "nope")
    assert str(exc.value) == f"ref 'nope' does not exist in {repo}"
    with pytest.raises(PerfgateError, match="user's own checkout"):
        vcs.reset(repo, vcs.head(repo))


def test_check_repo_warnings(repo):
    (repo / ".gitmodules").write_text("[submodule \"x\"]\n")
    (repo / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    git(repo, "checkout", "-q", "--detach")
    w = vcs.check_repo(repo)
    assert len(w) == 3 and any("submodules" in x for x in w) and any("LFS" in x for x in w)


def test_a_reused_measuring_tree_drops_what_a_failed_build_left(repo):
    # Found trying a cargo crate: its build wrote an untracked Cargo.lock into the base tree,
    # the gate refused that, the user committed Cargo.lock, and the next gate's checkout of
    # the reused tree failed ("untracked working tree files would be overwritten").
    (repo / ".gitignore").write_text("ignored.log\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    first = vcs.head(repo)
    base = vcs.ensure_worktree(repo, repo / ".perfgate" / "w" / "base", first)
    (base / "Cargo.lock").write_text("left by a build\n")
    (base / "ignored.log").write_text("an ignored cache stays\n")
    (repo / "Cargo.lock").write_text("committed\n")
    git(repo, "add", "Cargo.lock")
    git(repo, "commit", "-qm", "lock")
    second = vcs.head(repo)
    assert vcs.head(vcs.ensure_worktree(repo, base, second)) == second
    assert (base / "Cargo.lock").read_text() == "committed\n"
    assert (base / "ignored.log").exists()
    # The same commit again: a leftover that is not ignored is not measured either.
    (base / "stray.txt").write_text("x")
    vcs.ensure_worktree(repo, base, second)
    assert not (base / "stray.txt").exists()
