"""Per stack, what perfgate proposes: the set-up and build a worktree needs before it is timed,
and a profiler whose output perfgate can read. Every profiler here was run end to end by the
tests on this kind of machine (Linux, no hardware counters); each note says where it works.
"""
from __future__ import annotations

import json
import re
import shlex
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from perfgate.recon import RepoContext

CONCERN = {"memory_peak": "memory", "render_fps": "render", "bundle_size": "bundle",
           "db_query": "db"}
CALLGRIND_NOTE = ("valgrind callgrind: instructions per function, exact and free of timing noise, "
                  "20-50x slower; works on Linux (apt-get install valgrind), not on macOS, and "
                  "not on Go binaries")


@dataclass(frozen=True)
class Recommendation:
    tool: str
    command: str            # starts with "#" when perfgate cannot run it for you
    output_path: str        # a file, a directory (ends with /) or a glob
    note: str
    alternatives: tuple[str, ...] = ()

    @property
    def runnable(self) -> bool:
        return not self.command.startswith("#")


@dataclass(frozen=True)
class Preparation:
    """The set-up and build proposed for a repository, and how the repro should then run."""

    setup: str | None
    build: str | None
    notes: tuple[str, ...] = ()


def _installed(program: str, hint: str) -> str:
    return "installed here" if shutil.which(program) else f"not installed here: {hint}"


# -- profilers ------------------------------------------------------------------------------

def _python_script(repro: str) -> tuple[str, str] | None:
    """('python', 'script.py args') when the repro is a plain python invocation."""
    try:
        argv = shlex.split(repro)
    except ValueError:
        return None
    if argv and re.fullmatch(r"(.*/)?python[0-9.]*", argv[0]) and len(argv) > 1:
        return argv[0], shlex.join(argv[1:])
    return None


def _node_args(repro: str, root: Path | None) -> list[str] | None:
    """The arguments after `node` when the repro is `node ...`, or a package.json script
    (`npm run X`, `npm test`, `yarn X`, `pnpm X`) that is one."""
    try:
        argv = shlex.split(repro)
    except ValueError:
        return None
    if argv and Path(argv[0]).name == "node":
        return argv[1:]
    if root is None or len(argv) < 2 or Path(argv[0]).name not in ("npm", "yarn", "pnpm"):
        return None
    name = argv[2] if argv[1] in ("run", "run-script") and len(argv) > 2 else argv[1]
    try:
        scripts = json.loads((root / "package.json").read_text()).get("scripts") or {}
        inner = shlex.split(scripts.get(name) or "")
    except (OSError, ValueError, AttributeError):
        return None
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    return inner[1:] + extra if inner and inner[0] == "node" else None


def _as_argv(repro: str) -> str:
    """The repro as a command another tool can prefix: shell syntax goes through sh -c."""
    from perfgate.harness import needs_shell

    return f"/bin/sh -c {shlex.quote(repro)}" if needs_shell(repro) else repro


def _callgrind(repro: str, out_dir: str) -> Recommendation:
    return Recommendation(
        "callgrind",
        "valgrind --tool=callgrind --trace-children=yes "
        f"--callgrind-out-file={out_dir}/callgrind/callgrind.%p.out {_as_argv(repro)}",
        f"{out_dir}/callgrind/",
        f"{CALLGRIND_NOTE} ({_installed('valgrind', 'apt-get install -y valgrind')})")


def _python(repro: str, out_dir: str, concern: str) -> Recommendation:
    py = _python_script(repro)
    spy = _installed("py-spy", "pip install py-spy")
    if py is not None:
        note = ("cProfile: in the standard library, works everywhere"
                + (" (a CPU profile: perfgate reads no allocation profiles yet)"
                   if concern == "memory" else ""))
        return Recommendation("cprofile", f"{py[0]} -m cProfile -o {out_dir}/profile.pstats "
                              f"{py[1]}", f"{out_dir}/profile.pstats", note, ("py-spy",))
    if shutil.which("py-spy"):
        return Recommendation("py-spy", f"py-spy record --format raw -o {out_dir}/profile.folded "
                              f"-- {repro}", f"{out_dir}/profile.folded",
                              f"py-spy: sampling, any Python command ({spy}; needs ptrace "
                              "permission)")
    return Recommendation("py-spy", f"# py-spy record --format raw -o {out_dir}/profile.folded "
                          f"-- {repro}", f"{out_dir}/profile.folded",
                          f"the repro is not `python SCRIPT`, so cProfile cannot wrap it; py-spy "
                          f"can ({spy})")


def _node(repro: str, out_dir: str, root: Path | None) -> Recommendation:
    args = _node_args(repro, root)
    note = ("node --cpu-prof: built into Node.js, works everywhere; one .cpuprofile per node "
            "process, in a directory")
    if args is None:
        return Recommendation("node-cpu-prof", f"# node --cpu-prof --cpu-prof-dir={out_dir}/"
                              "cpuprofile FILE", f"{out_dir}/cpuprofile/",
                              "node --cpu-prof needs the repro as `node FILE ...` (or a "
                              "package.json script that is one); Node 20 refuses --cpu-prof in "
                              "NODE_OPTIONS")
    return Recommendation("node-cpu-prof", f"node --cpu-prof --cpu-prof-dir={out_dir}/cpuprofile "
                          f"{shlex.join(args)}", f"{out_dir}/cpuprofile/", note, ("clinic",))


def _go(ctx: RepoContext, repro: str, out_dir: str) -> Recommendation:
    note = "go test -cpuprofile (pprof, read directly): built into Go, works everywhere"
    if "-test.bench" in repro:
        return Recommendation("pprof", f"{repro} -test.cpuprofile={out_dir}/cpu.pprof",
                              f"{out_dir}/cpu.pprof", note)
    if any(b.endswith("_test.go") for b in ctx.existing_benchmarks):
        return Recommendation("pprof", f"go test -run '^$' -bench . -cpuprofile "
                              f"{out_dir}/cpu.pprof -o {out_dir}/go-test.bin",
                              f"{out_dir}/cpu.pprof", note)
    return Recommendation("pprof", f"# go test -run '^$' -bench . -cpuprofile {out_dir}/cpu.pprof",
                          f"{out_dir}/cpu.pprof",
                          "a Go binary is profiled by runtime/pprof in its main, or through a "
                          "benchmark (func BenchmarkX in a _test.go file): add one; valgrind "
                          "cannot run Go binaries")


def recommend(ctx: RepoContext, domain: str, repro: str, out_dir: str,
              root: Path | None = None) -> Recommendation:
    """The profiler for this stack and domain, with a ready command writing under out_dir."""
    concern = CONCERN.get(domain, "cpu")
    language = ctx.language
    if language == "unknown" and _python_script(repro):
        language = "python"
    if concern == "render":
        return Recommendation("chrome-trace", f"# record a Chrome performance trace to "
                              f"{out_dir}/trace.json", f"{out_dir}/trace.json",
                              "browser render / FPS: Chrome DevTools performance trace")
    if concern == "db":
        return Recommendation("explain-analyze", "# EXPLAIN (ANALYZE, BUFFERS) + "
                              "pg_stat_statements", f"{out_dir}/explain.txt",
                              "EXPLAIN ANALYZE + pg_stat_statements")
    if concern == "bundle":
        return Recommendation("source-map-explorer", f"# npx source-map-explorer 'dist/**/*.js' "
                              f"--json {out_dir}/bundle.json", f"{out_dir}/bundle.json",
                              "source-map-explorer / vite-bundle-visualizer (perfgate reads no "
                              "bundle reports yet)")
    if language == "python":
        return _python(repro, out_dir, concern)
    if language in ("javascript", "typescript"):
        return _node(repro, out_dir, root)
    if language == "go":
        return _go(ctx, repro, out_dir)
    if language == "dart":
        return Recommendation("dart-devtools", "# dart devtools: record a CPU profile",
                              f"{out_dir}/profile.json",
                              "Dart/Flutter: the DevTools CPU profiler (perfgate reads no Dart "
                              "profiles yet)")
    return _callgrind(repro, out_dir)     # rust, c, c++, and any other compiled program


KNOWN_TOOLS = ("cprofile", "py-spy", "node-cpu-prof", "callgrind", "pprof")


def for_tool(tool: str, ctx: RepoContext, domain: str, repro: str, out_dir: str,
             root: Path | None = None) -> Recommendation | None:
    """The command for a profiler the user chose by name (`init --profiler callgrind`)."""
    concern = CONCERN.get(domain, "cpu")
    if tool == "callgrind":
        return _callgrind(repro, out_dir)
    if tool == "node-cpu-prof":
        return _node(repro, out_dir, root)
    if tool == "pprof":
        return _go(ctx, repro, out_dir)
    if tool in ("cprofile", "py-spy"):
        rec = _python(repro, out_dir, concern)
        if rec.tool == tool:
            return rec
        if tool == "py-spy":
            return Recommendation("py-spy", f"py-spy record --format raw -o "
                                  f"{out_dir}/profile.folded -- {repro}",
                                  f"{out_dir}/profile.folded", "py-spy: sampling")
    return None


# -- set-up and build -------------------------------------------------------------------------

def _git_ok(root: Path, *args: str) -> bool:
    from perfgate import harness

    return harness.call(["git", *args], cwd=root).returncode == 0


def _tracked(root: Path, name: str) -> bool:
    """Is the file committed (a Cargo.lock that is only local should not be --locked)?"""
    return _git_ok(root, "ls-files", "--error-unmatch", name)


def _ignores(root: Path, path: str) -> bool:
    return _git_ok(root, "check-ignore", "-q", path)


def propose(root: Path, ctx: RepoContext) -> Preparation:
    """Set-up (dependencies, keyed by lockfiles) and build (compiled from the tree)."""
    lang, pm = ctx.language, ctx.package_manager
    notes: list[str] = []
    if lang in ("javascript", "typescript"):
        setup = {"pnpm": "pnpm install --frozen-lockfile", "bun": "bun install --frozen-lockfile",
                 "yarn": "yarn install --immutable" if (root / ".yarnrc.yml").exists()
                 else "yarn install --frozen-lockfile",
                 "npm": "npm ci" if (root / "package-lock.json").exists() else "npm install"}[pm]
        try:
            scripts = json.loads((root / "package.json").read_text()).get("scripts") or {}
        except (OSError, ValueError, AttributeError):
            scripts = {}
        build = f"{pm} run build" if isinstance(scripts, dict) and "build" in scripts else None
        if not _ignores(root, "node_modules/"):
            notes.append("add node_modules/ to .gitignore: the set-up installs there")
        return Preparation(setup, build, tuple(notes))
    if lang == "python":
        return _python_prep(root, pm)
    if lang == "rust":
        name = _rust_bin(root)
        locked = " --locked" if _tracked(root, "Cargo.lock") else ""
        notes.append(f"time the built binary (repro: target/release/{name} ...), not `cargo run`,"
                     " whose own start-up would be timed with it")
        return Preparation(None, f"cargo build --release{locked}", tuple(notes))
    if lang == "go":
        setup = "go mod download" if (root / "go.sum").exists() else None
        if any(b.endswith("_test.go") for b in ctx.existing_benchmarks):
            notes.append("time the compiled benchmark: repro .perfgate/bin/bench.test "
                         "-test.run '^$' -test.bench . -test.benchtime 20x")
            return Preparation(setup, "go test -c -o .perfgate/bin/bench.test .", tuple(notes))
        notes.append("time the built binary: repro .perfgate/bin/app ...")
        return Preparation(setup, "go build -o .perfgate/bin/app .", tuple(notes))
    if lang == "dart":
        return Preparation("flutter pub get" if pm == "flutter pub" else "dart pub get", None)
    if pm == "cmake":
        return Preparation(None, "cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && "
                           "cmake --build build -j", ("build/ must be git-ignored",))
    if pm == "meson":
        return Preparation(None, "meson setup build --buildtype=debugoptimized && "
                           "meson compile -C build", ("build/ must be git-ignored",))
    if (root / "Makefile").exists() or (root / "makefile").exists():
        return Preparation(None, "make", ("make's outputs must be git-ignored",))
    return Preparation(None, None)


def _python_prep(root: Path, pm: str) -> Preparation:
    venv = ("the repro must run the worktree's own interpreter, .venv/bin/python: a package "
            "installed into a shared environment would be the same on both sides")
    notes = [venv] + ([] if _ignores(root, ".venv/") else
                      ["add .venv/ to .gitignore: the set-up creates it"])
    if pm == "uv":
        return Preparation("uv sync --frozen", None, tuple(notes))
    if pm == "poetry":
        return Preparation("POETRY_VIRTUALENVS_IN_PROJECT=true poetry install --no-interaction "
                           "--no-root", "POETRY_VIRTUALENVS_IN_PROJECT=true poetry install "
                           "--no-interaction --only-root", tuple(notes))
    reqs = sorted(p.name for p in root.glob("requirements*.txt"))
    installable = (root / "setup.py").exists() or _has_build_system(root)
    if not reqs and not installable:
        return Preparation(None, None)
    setup = "python3 -m venv .venv"
    if reqs:
        setup += " && .venv/bin/python -m pip install -q " + " ".join(f"-r {r}" for r in reqs[:1])
    # The project itself is built from the tree (its code, any C extension): that is a build.
    build = ".venv/bin/python -m pip install -q --no-deps -e ." if installable else None
    return Preparation(setup, build, tuple(notes))


def _has_build_system(root: Path) -> bool:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return "build-system" in data or "project" in data


def _rust_bin(root: Path) -> str:
    try:
        data = tomllib.loads((root / "Cargo.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return "NAME"
    bins = [b.get("name") for b in data.get("bin") or [] if isinstance(b, dict)]
    return next((b for b in bins if b), None) or (data.get("package") or {}).get("name", "NAME")
