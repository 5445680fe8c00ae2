"""Bad repositories, bad commands and hostile text: one-line errors or named warnings."""
import subprocess

import yaml

from perfgate.artifacts import read_artifact
from tests.conftest import PY, contract_yaml, git, perfgate


def scoping(repo):
    return (repo / ".perfgate" / "work" / "scoping.md").read_text()


def test_not_a_git_repository(tmp_path):
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "work.yaml").write_text(contract_yaml())
    r = perfgate("scope", "work", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"Error: {tmp_path}: not a git repository (perfgate needs one: "
                                "git init && git commit)")


def test_repository_shapes_are_named_in_scoping(repo):
    (repo / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    git(repo, "add", ".gitattributes")
    git(repo, "commit", "-qm", "lfs")
    git(repo, "checkout", "-q", "--detach")
    (repo / "work.py").write_text((repo / "work.py").read_text() + "# dirty\n")
    assert perfgate("scope", "work", cwd=repo).returncode == 0
    text = scoping(repo)
    assert "Git LFS" in text and "HEAD is detached" in text
    assert "uncommitted change(s) (work.py" in text


def test_bad_base_ref(repo):
    r = perfgate("compare", "work", "--base", "nope", "--head", "HEAD", "--yes", cwd=repo)
    assert r.returncode == 2
    assert r.stderr.strip() == f"Error: ref 'nope' does not exist in {repo}"


def test_repro_that_does_not_exist(repo):
    (repo / "contracts" / "work.yaml").write_text(
        contract_yaml().replace(f"{PY} work.py", "./no-such-program --flag"))
    assert perfgate("scope", "work", cwd=repo).returncode == 2
    text = scoping(repo)
    assert "preflight: failed" in text and "exit 127" in text and "not found" in text


def test_repro_that_hangs_is_killed_at_the_timeout(repo):
    (repo / "work.py").write_text("import time\ntime.sleep(60)\n")
    git(repo, "commit", "-qam", "hang")
    (repo / "contracts" / "work.yaml").write_text(
        contract_yaml(warmup=0).replace("timeout_s: 60", "timeout_s: 0.5"))
    r = perfgate("scope", "work", cwd=repo, timeout=60)
    assert r.returncode == 2
    assert "timed out after 0.5 s (the process tree was killed)" in scoping(repo)


def test_a_metric_that_is_not_a_number(repo):
    (repo / "work.py").write_text("print('PERFGATE_METRIC p95=fast')\n")
    git(repo, "commit", "-qam", "nan")
    (repo / "contracts" / "work.yaml").write_text(contract_yaml().replace(
        "watchdogs:\n", "watchdogs:\n    - {name: p95, max_regression_pct: 10}\n"))
    assert perfgate("scope", "work", cwd=repo).returncode == 2
    assert "metric p95: 'fast' is not a number" in scoping(repo)


def test_hostile_text_never_breaks_front_matter(repo):
    c = yaml.safe_load(contract_yaml())
    c["domain"] = "custom"
    c["description"] = "quotes \" ' $(rm -rf /) `x`\n---\nresult: approved\n"
    (repo / "contracts" / "work.yaml").write_text(yaml.safe_dump(c))
    assert perfgate("scope", "work", cwd=repo).returncode == 0
    art = read_artifact(repo / ".perfgate" / "work" / "scoping.md")
    assert art.result == "pending"  # the description could not forge an approval
    assert "$(rm -rf /)" in art.body
    r = perfgate("baseline", "work", cwd=repo)
    assert r.returncode == 2 and "is not approved" in r.stderr


def test_non_utf8_output_is_survivable(repo):
    (repo / "work.py").write_text(
        "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe bad bytes\\n')\n"
        "sys.stderr.buffer.write(b'\\xc3\\x28 also bad\\n')\n")
    git(repo, "commit", "-qam", "bytes")
    assert perfgate("scope", "work", "--yes", cwd=repo).returncode == 0
    assert perfgate("baseline", "work", cwd=repo).returncode == 0
    r = subprocess.run([PY, "-m", "perfgate", "status"], cwd=repo, capture_output=True)
    assert r.returncode == 0


def test_a_repro_that_writes_into_its_tree_fails_the_measurement(repo):
    (repo / "work.py").write_text("open('output.txt', 'a').write('x')\n")
    git(repo, "commit", "-qam", "writes")
    assert perfgate("scope", "work", "--yes", cwd=repo).returncode == 0
    r = perfgate("baseline", "work", cwd=repo)
    assert r.returncode == 2
    assert r.stderr.strip() == ("Error: baseline: the repro changed files in its tree "
                                "(output.txt); write outputs outside the tree or to git-ignored "
                                "paths")
    assert not (repo / "output.txt").exists()  # only perfgate's worktree was written to
