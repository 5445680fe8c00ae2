"""Repo recon on fixture repositories of each stack, and the profiler recommendation table."""
import json

import pytest

from perfgate import recon


def make(root, files):
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_node_with_vite_and_pnpm(tmp_path):
    make(tmp_path, {"package.json": json.dumps({
        "scripts": {"start": "vite", "build": "vite build", "bench": "node bench.js"},
        "devDependencies": {"vite": "^5"}, "engines": {"node": ">=20"}}),
        "pnpm-lock.yaml": "", "tsconfig.json": "{}"})
    ctx = recon.detect(tmp_path)
    assert (ctx.language, ctx.runtime, ctx.package_manager) == ("typescript", "Node.js >=20",
                                                                "pnpm")
    assert "package.json:scripts.bench" in ctx.existing_benchmarks
    assert any("vite" in n for n in ctx.notes)


def test_python_pyproject_with_benchmarks(tmp_path):
    make(tmp_path, {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.11"\n'
                                      'dependencies = ["scipy"]\n[project.optional-dependencies]\n'
                                      'test = ["pytest-benchmark"]\n', "uv.lock": "",
                    "benchmarks/bench_x.py": ""})
    ctx = recon.detect(tmp_path)
    assert (ctx.language, ctx.runtime, ctx.package_manager) == ("python", "CPython >=3.11", "uv")
    assert ctx.existing_benchmarks == ("benchmarks/",)
    assert any("pytest-benchmark" in n and "scipy" in n for n in ctx.notes)


def test_python_requirements_only(tmp_path):
    make(tmp_path, {"requirements-dev.txt": "py-spy\n", ".python-version": "3.12.1\n"})
    ctx = recon.detect(tmp_path)
    assert (ctx.language, ctx.runtime, ctx.package_manager) == ("python", "CPython 3.12.1", "pip")


def test_rust_with_criterion(tmp_path):
    make(tmp_path, {"Cargo.toml": '[package]\nname = "x"\nedition = "2021"\n'
                                  '[dev-dependencies]\ncriterion = "0.5"\n'
                                  '[[bench]]\nname = "parse"\nharness = false\n'})
    ctx = recon.detect(tmp_path)
    assert (ctx.language, ctx.runtime) == ("rust", "Rust (edition 2021)")
    assert ctx.existing_benchmarks == ("Cargo.toml:[[bench]] parse",)


def test_go_with_benchmarks(tmp_path):
    make(tmp_path, {"go.mod": "module x\n\ngo 1.22\n",
                    "x_test.go": "package x\nfunc BenchmarkParse(b *testing.B) {}\n"})
    ctx = recon.detect(tmp_path)
    assert (ctx.language, ctx.runtime, ctx.package_manager) == ("go", "Go 1.22", "go")
    assert ctx.existing_benchmarks == ("x_test.go",)


def test_flutter(tmp_path):
    make(tmp_path, {"pubspec.yaml": "name: app\ndependencies:\n  flutter:\n    sdk: flutter\n"})
    assert recon.detect(tmp_path).runtime == "Flutter"


def test_makefile_targets_and_mixed_repo(tmp_path):
    make(tmp_path, {"Makefile": "test:\n\tpytest\nbench:\n\t./bench.sh\nprofile:\n\tx\n",
                    "go.mod": "module x\n", "package.json": "{}"})
    ctx = recon.detect(tmp_path)
    assert ctx.language == "go"
    assert "Makefile:bench" in ctx.existing_benchmarks
    assert "Makefile targets: bench, profile, test" in ctx.notes
    assert "also: javascript" in ctx.notes


def test_empty_and_malformed(tmp_path):
    assert recon.detect(tmp_path).language == "unknown"
    make(tmp_path, {"package.json": "{\n  \"name\": \n"})
    ctx = recon.detect(tmp_path)
    assert ctx.language == "javascript"
    assert any(n.startswith("package.json: not valid JSON (line 3)") for n in ctx.notes)


@pytest.mark.parametrize("language,domain,repro,tool", [
    ("python", "cli_startup", "python app.py --fast", "cprofile"),
    ("python", "memory_peak", "python app.py", "tracemalloc"),
    ("javascript", "api_latency", "node server.js", "clinic"),
    ("javascript", "cli_startup", "node cli.js", "node-cpu-prof"),
    ("javascript", "bundle_size", "npm run build", "source-map-explorer"),
    ("go", "api_latency", "go run .", "pprof"),
    ("rust", "build_time", "cargo run --release", "cargo-flamegraph"),
    ("unknown", "db_query", "psql -f q.sql", "explain-analyze"),
    ("unknown", "render_fps", "npm start", "chrome-trace"),
    ("unknown", "cli_startup", "./app", "hyperfine"),
])
def test_recommendations(language, domain, repro, tool):
    ctx = recon.RepoContext(language, "", "")
    rec = recon.recommend(ctx, domain, repro, ".perfgate/x")
    assert rec.tool == tool
    assert rec.output_path.startswith(".perfgate/x/")
    assert "{" not in rec.command


def test_python_repro_is_rewritten_for_cprofile():
    rec = recon.recommend(recon.RepoContext("python", "", ""), "cli_startup",
                          "/usr/bin/python3 tools/run.py --n 5", ".perfgate/x")
    assert rec.command == ("/usr/bin/python3 -m cProfile -o .perfgate/x/profile.pstats "
                           "tools/run.py --n 5")

