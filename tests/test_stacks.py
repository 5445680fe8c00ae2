"""What perfgate proposes per stack: set-up, build, and a profiler it can run and read."""
import json
import subprocess

import pytest

from perfgate import recon, stacks
from tests.test_recon import make


@pytest.mark.parametrize("language,domain,repro,tool,runnable", [
    ("python", "cli_startup", "python app.py --fast", "cprofile", True),
    ("python", "memory_peak", "python app.py", "cprofile", True),
    ("javascript", "api_latency", "node server.js", "node-cpu-prof", True),
    ("javascript", "cli_startup", "node cli.js", "node-cpu-prof", True),
    ("typescript", "cli_startup", "./run.sh", "node-cpu-prof", False),
    ("javascript", "bundle_size", "npm run build", "source-map-explorer", False),
    ("go", "api_latency", "go run .", "pprof", False),
    ("go", "cli_startup", ".perfgate/bin/bench.test -test.run ^$ -test.bench .", "pprof", True),
    ("rust", "cli_startup", "target/release/x 3000", "callgrind", True),
    ("c++", "cli_startup", "build/app", "callgrind", True),
    ("unknown", "db_query", "psql -f q.sql", "explain-analyze", False),
    ("unknown", "render_fps", "npm start", "chrome-trace", False),
    ("unknown", "cli_startup", "./app", "callgrind", True),
])
def test_recommendations(language, domain, repro, tool, runnable):
    rec = stacks.recommend(recon.RepoContext(language, "", ""), domain, repro, ".perfgate/x")
    assert (rec.tool, rec.runnable) == (tool, runnable)
    assert rec.output_path.startswith(".perfgate/x/")
    assert "{" not in rec.command and rec.note


def test_python_repro_is_rewritten_for_cprofile():
    rec = stacks.recommend(recon.RepoContext("python", "", ""), "cli_startup",
                           "/usr/bin/python3 tools/run.py --n 5", ".perfgate/x")
    assert rec.command == ("/usr/bin/python3 -m cProfile -o .perfgate/x/profile.pstats "
                           "tools/run.py --n 5")


def test_node_flags_go_after_node_once(tmp_path):
    """The issue's command had `node` twice: `node --cpu-prof ... node bench.js`."""
    ctx = recon.RepoContext("javascript", "", "npm")
    rec = stacks.recommend(ctx, "cli_startup", "node bench.js 300", ".perfgate/x")
    assert rec.command == "node --cpu-prof --cpu-prof-dir=.perfgate/x/cpuprofile bench.js 300"
    assert rec.output_path == ".perfgate/x/cpuprofile/"
    make(tmp_path, {"package.json": json.dumps({"scripts": {"bench": "node bench.js --n 3"}})})
    rec = stacks.recommend(ctx, "cli_startup", "npm run bench -- --quiet", ".perfgate/x",
                           root=tmp_path)
    assert rec.command == ("node --cpu-prof --cpu-prof-dir=.perfgate/x/cpuprofile bench.js --n 3 "
                           "--quiet")


def test_shell_repros_are_wrapped_for_valgrind():
    rec = stacks.recommend(recon.RepoContext("rust", "", ""), "cli_startup",
                           "target/release/x < input.txt", ".perfgate/x")
    assert rec.command.endswith("/bin/sh -c 'target/release/x < input.txt'")
    assert "--trace-children=yes" in rec.command and "%p" in rec.command


def test_a_tool_chosen_by_name_gets_its_own_command():
    ctx = recon.RepoContext("python", "", "pip")
    rec = stacks.for_tool("callgrind", ctx, "cli_startup", "python app.py", ".perfgate/x")
    assert rec.command.startswith("valgrind --tool=callgrind")
    assert stacks.for_tool("py-spy", ctx, "cli_startup", "python app.py", ".perfgate/x"
                           ).command.startswith("py-spy record")
    assert stacks.for_tool("vtune", ctx, "cli_startup", "python app.py", ".perfgate/x") is None


def _git_repo(root, files, ignore="", commit=()):
    make(root, files)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    if ignore:
        (root / ".gitignore").write_text(ignore)
    for name in commit:
        subprocess.run(["git", "add", name], cwd=root, check=True)
    return root


@pytest.mark.parametrize("files,ignore,commit,setup,build", [
    ({"package.json": "{}", "package-lock.json": "{}"}, "node_modules/\n", (), "npm ci", None),
    ({"package.json": json.dumps({"scripts": {"build": "tsc"}}), "pnpm-lock.yaml": ""}, "", (),
     "pnpm install --frozen-lockfile", "pnpm run build"),
    ({"package.json": "{}", "yarn.lock": "", ".yarnrc.yml": ""}, "", (),
     "yarn install --immutable", None),
    ({"package.json": "{}"}, "", (), "npm install", None),
    ({"pyproject.toml": "[project]\nname='x'\n", "uv.lock": ""}, ".venv/\n", (),
     "uv sync --frozen", None),
    ({"requirements.txt": "scipy\n"}, ".venv/\n", (),
     "python3 -m venv .venv && .venv/bin/python -m pip install -q -r requirements.txt", None),
    ({"pyproject.toml": "[project]\nname='x'\n[build-system]\nrequires=[]\n"}, "", (),
     "python3 -m venv .venv", ".venv/bin/python -m pip install -q --no-deps -e ."),
    ({"Cargo.toml": "[package]\nname='x'\n", "Cargo.lock": ""}, "/target\n", ("Cargo.lock",),
     None, "cargo build --release --locked"),
    ({"Cargo.toml": "[package]\nname='x'\n"}, "", (), None, "cargo build --release"),
    ({"go.mod": "module x\n", "go.sum": "", "x_test.go": "func BenchmarkX(b *testing.B) {}"},
     "", (), "go mod download", "go test -c -o .perfgate/bin/bench.test ."),
    ({"go.mod": "module x\n", "main.go": "package main"}, "", (), None,
     "go build -o .perfgate/bin/app ."),
    ({"pubspec.yaml": "name: x\n"}, "", (), "dart pub get", None),
    ({"CMakeLists.txt": "", "main.c": ""}, "", (), None,
     "cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j"),
    ({"Makefile": "all:\n", "main.c": ""}, "", (), None, "make"),
    ({"README": ""}, "", (), None, None),
])
def test_setup_and_build_proposed_per_stack(tmp_path, files, ignore, commit, setup, build):
    root = _git_repo(tmp_path, files, ignore, commit)
    prep = stacks.propose(root, recon.detect(root))
    assert (prep.setup, prep.build) == (setup, build)


def test_notes_say_what_must_be_ignored_and_what_to_time(tmp_path):
    root = _git_repo(tmp_path / "n", {"package.json": "{}", "package-lock.json": "{}"})
    assert "add node_modules/ to .gitignore" in " ".join(stacks.propose(root, recon.detect(root))
                                                         .notes)
    root = _git_repo(tmp_path / "r", {"Cargo.toml": "[package]\nname='fast-thing'\n"})
    assert "target/release/fast-thing" in " ".join(stacks.propose(root, recon.detect(root)).notes)
