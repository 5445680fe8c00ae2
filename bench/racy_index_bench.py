"""A candidate's tree hash after archive -> reset -> re-apply (what tests/test_vcs.py checks
once): how often an edit made in the same second as the reset's checkout is missed, with the
temporary index copied keeping its mtime (vcs, now) and with a fresh mtime (before: copyfile),
trial by trial alternating, in one run.

Run: python bench/racy_index_bench.py [TRIALS]
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent))
from _common import git, machine  # noqa: E402

from perfgate import vcs  # noqa: E402


def trial() -> bool:
    """True when the re-applied tree is the archived candidate's."""
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d) / "proj"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "work.py").write_text("print(1)\n")
        (repo / "bin.dat").write_bytes(bytes(range(256)))
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base")
        head = vcs.head(repo)
        work = vcs.ensure_worktree(repo, repo / ".perfgate" / "w" / "work", head,
                                   branch="perfgate/w")
        (work / "bin.dat").write_bytes(bytes(reversed(range(256))))   # same size
        (work / "work.py").unlink()
        (work / "new.txt").write_text("x")
        candidate = vcs.tree_hash(work)
        patch = repo / ".perfgate" / "w" / "1.patch"
        vcs.archive(work, base=head, patch_path=patch, ref="refs/perfgate/rejected/w/1",
                    message="m")
        vcs.reset(work, head)
        subprocess.run(["git", "apply", "--binary", str(patch)], cwd=work, check=True)
        return vcs.tree_hash(work) == candidate


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    keep_mtime = shutil.copy2
    missed = {"copy2 (kept mtime)": 0, "copyfile (fresh mtime)": 0}
    for i in range(2 * n):
        label = list(missed)[i % 2]
        vcs.shutil.copy2 = keep_mtime if i % 2 == 0 else shutil.copyfile
        missed[label] += not trial()
    vcs.shutil.copy2 = keep_mtime
    print(f"machine: {machine()}; N = {n} trials per way, alternating")
    print("| temporary index | wrong candidate tree |\n|---|---|")
    for label, bad in missed.items():
        print(f"| {label} | {bad}/{n} |")


if __name__ == "__main__":
    main()
