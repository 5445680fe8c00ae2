"""Repo recon for scoping: the stack, its runtime and benchmarks, and the profiler to recommend."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIRS = ("bench", "benches", "benchmarks", "perf")


@dataclass(frozen=True)
class RepoContext:
    language: str
    runtime: str
    package_manager: str
    existing_benchmarks: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class _Found:
    language: str
    runtime: str
    package_manager: str
    benchmarks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read(path: Path, notes: list[str]) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        notes.append(f"{path.name}: unreadable ({exc.__class__.__name__})")
        return None


def _toml(path: Path, notes: list[str]) -> dict:
    """A manifest's TOML, or {} with a note saying what is wrong with it."""
    try:
        return tomllib.loads(_read(path, notes) or "")
    except tomllib.TOMLDecodeError as exc:
        notes.append(f"{path.name}: not valid TOML ({str(exc).splitlines()[0]})")
        return {}


def _node(root: Path, notes: list[str]) -> _Found | None:
    text = _read(root / "package.json", notes) if (root / "package.json").exists() else None
    if text is None:
        return None
    try:
        pkg = json.loads(text)
    except json.JSONDecodeError as exc:
        notes.append(f"package.json: not valid JSON (line {exc.lineno})")
        pkg = {}
    pkg = pkg if isinstance(pkg, dict) else {}
    locks = {"pnpm-lock.yaml": "pnpm", "yarn.lock": "yarn", "bun.lockb": "bun",
             "package-lock.json": "npm"}
    pm = next((m for f, m in locks.items() if (root / f).exists()), "npm")
    engines = pkg.get("engines") if isinstance(pkg.get("engines"), dict) else {}
    runtime = f"Node.js {engines['node']}" if engines.get("node") else "Node.js"
    f = _Found("javascript", runtime, pm)
    if (root / "tsconfig.json").exists():
        f.language = "typescript"
    scripts = pkg.get("scripts") if isinstance(pkg.get("scripts"), dict) else {}
    for name in ("start", "build", "test", "bench"):
        if name in scripts:
            f.notes.append(f"package.json script {name}: {scripts[name]}")
    if "bench" in scripts:
        f.benchmarks.append("package.json:scripts.bench")
    deps = {**(pkg.get("dependencies") or {}), **(pkg.get("devDependencies") or {})}
    tools = [d for d in ("vite", "next", "webpack", "clinic", "hyperfine", "tinybench",
                         "benchmark") if d in deps]
    if tools:
        f.notes.append("tools: " + ", ".join(tools))
    return f


def _python(root: Path, notes: list[str]) -> _Found | None:
    reqs = sorted(root.glob("requirements*.txt"))
    pyproject = root / "pyproject.toml"
    if not pyproject.exists() and not reqs and not (root / "setup.py").exists():
        return None
    f = _Found("python", "CPython", "pip")
    deps_text = ""
    if pyproject.exists():
        data = _toml(pyproject, notes)
        project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
        if project.get("requires-python"):
            f.runtime = f"CPython {project['requires-python']}"
        tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
        if "poetry" in tool:
            f.package_manager = "poetry"
        elif (root / "uv.lock").exists():
            f.package_manager = "uv"
        elif "pdm" in tool:
            f.package_manager = "pdm"
        elif "hatch" in tool:
            f.package_manager = "hatch"
        deps_text = json.dumps([project.get("dependencies"),
                                project.get("optional-dependencies"), tool.get("poetry")])
    for r in reqs:
        deps_text += _read(r, notes) or ""
    pv = root / ".python-version"
    if pv.exists():
        f.runtime = f"CPython {(_read(pv, notes) or '').strip()}"
    tools = [t for t in ("pytest-benchmark", "asv", "py-spy", "scipy", "pyperf", "scalene")
             if re.search(rf"\b{re.escape(t)}\b", deps_text)]
    if tools:
        f.notes.append("tools: " + ", ".join(tools))
    if (root / "asv.conf.json").exists():
        f.benchmarks.append("asv.conf.json")
    return f


def _rust(root: Path, notes: list[str]) -> _Found | None:
    if not (root / "Cargo.toml").exists():
        return None
    f = _Found("rust", "Rust", "cargo")
    data = _toml(root / "Cargo.toml", notes)
    pkg = data.get("package", {}) if isinstance(data.get("package"), dict) else {}
    if pkg.get("edition"):
        f.runtime = f"Rust (edition {pkg['edition']})"
    for b in data.get("bench", []) if isinstance(data.get("bench"), list) else []:
        if isinstance(b, dict):
            f.benchmarks.append(f"Cargo.toml:[[bench]] {b.get('name', '?')}")
    deps = {**(data.get("dependencies") or {}), **(data.get("dev-dependencies") or {})}
    tools = [d for d in ("criterion", "divan", "flamegraph", "iai") if d in deps]
    if tools:
        f.notes.append("tools: " + ", ".join(tools))
    return f


def _go(root: Path, notes: list[str]) -> _Found | None:
    if not (root / "go.mod").exists():
        return None
    text = _read(root / "go.mod", notes) or ""
    m = re.search(r"^go\s+(\S+)", text, re.MULTILINE)
    f = _Found("go", f"Go {m.group(1)}" if m else "Go", "go")
    for test in sorted(root.rglob("*_test.go"))[:200]:
        if "func Benchmark" in (_read(test, notes) or ""):
            f.benchmarks.append(str(test.relative_to(root)))
    return f


def _dart(root: Path, notes: list[str]) -> _Found | None:
    if not (root / "pubspec.yaml").exists():
        return None
    text = _read(root / "pubspec.yaml", notes) or ""
    flutter = re.search(r"^\s*flutter\s*:", text, re.MULTILINE) is not None
    return _Found("dart", "Flutter" if flutter else "Dart", "flutter pub" if flutter else "pub")


# Precedence when several manifests exist: the compiled/most specific stack first.
DETECTORS = (_rust, _go, _dart, _node, _python)


def detect(root: Path) -> RepoContext:
    """Look at the manifests in root; never runs anything."""
    notes: list[str] = []
    found = [f for f in (d(root, notes) for d in DETECTORS) if f is not None]
    primary = found[0] if found else _Found("unknown", "unknown", "none")
    if len(found) > 1:
        notes.append("also: " + ", ".join(f.language for f in found[1:]))
    benches = list(primary.benchmarks)
    for other in found[1:]:
        benches += other.benchmarks
    for d in BENCH_DIRS:
        if (root / d).is_dir():
            benches.append(f"{d}/")
    mk = root / "Makefile"
    if mk.exists():
        targets = re.findall(r"^([A-Za-z][\w-]*)\s*:", _read(mk, notes) or "", re.MULTILINE)
        hits = [t for t in ("bench", "benchmark", "profile", "test", "perf") if t in targets]
        if hits:
            notes.append("Makefile targets: " + ", ".join(hits))
        if {"bench", "benchmark", "perf"} & set(hits):
            benches.append("Makefile:bench")
    for f in found:
        notes += f.notes
    return RepoContext(primary.language, primary.runtime, primary.package_manager,
                       tuple(sorted(set(benches))), tuple(notes))


# -- the profiler recommendation table (data, not if-chains) --------------------------------

@dataclass(frozen=True)
class ProfilerRow:
    stack: str          # language of RepoContext, or "*" for any
    concern: str        # cpu | startup | render | memory | bundle | db | wall
    tool: str
    command: str        # template: {repro}, {output}, {script}
    output: str         # default output file name
    note: str


TABLE: tuple[ProfilerRow, ...] = (
    ProfilerRow("python", "cpu", "cprofile", "{python} -m cProfile -o {output} {script}",
                "profile.pstats", "cProfile: in the standard library, works everywhere"),
    ProfilerRow("python", "cpu", "py-spy", "py-spy record --format raw -o {output} -- {repro}",
                "profile.folded", "py-spy: sampling, low overhead (needs ptrace permission)"),
    ProfilerRow("python", "memory", "tracemalloc", "{python} -X tracemalloc=25 {script}",
                "tracemalloc.txt", "tracemalloc: Python allocations by line"),
    ProfilerRow("javascript", "cpu", "clinic", "clinic flame --dest {output} -- {repro}",
                "clinic", "node --prof + clinic flame / clinic doctor"),
    ProfilerRow("javascript", "startup", "node-cpu-prof",
                "node --cpu-prof --cpu-prof-dir={output} {script}", "cpuprof",
                "node --cpu-prof for startup, hyperfine for wall time"),
    ProfilerRow("javascript", "memory", "node-heap-prof",
                "node --heap-prof --heap-prof-dir={output} {script}", "heapprof",
                "node --heap-prof"),
    ProfilerRow("javascript", "bundle", "source-map-explorer",
                "npx source-map-explorer 'dist/**/*.js' --json {output}", "bundle.json",
                "source-map-explorer / vite-bundle-visualizer"),
    ProfilerRow("*", "render", "chrome-trace", "# record a Chrome performance trace to {output}",
                "trace.json", "browser render / FPS: Chrome DevTools performance trace"),
    ProfilerRow("go", "cpu", "pprof", "go test -run '^$' -bench . -cpuprofile {output}",
                "cpu.prof", "go test -cpuprofile or runtime/pprof"),
    ProfilerRow("rust", "cpu", "cargo-flamegraph", "cargo flamegraph -o {output} -- {repro}",
                "flamegraph.svg", "cargo flamegraph or samply"),
    ProfilerRow("*", "db", "explain-analyze", "# EXPLAIN (ANALYZE, BUFFERS) + pg_stat_statements",
                "explain.txt", "EXPLAIN ANALYZE + pg_stat_statements"),
    ProfilerRow("*", "memory", "massif", "valgrind --tool=massif --massif-out-file={output} "
                "{repro}", "massif.out", "valgrind massif (C/C++ memory)"),
    ProfilerRow("*", "wall", "hyperfine", "hyperfine --warmup 1 --runs 10 --export-json {output}"
                " -- {quoted}", "hyperfine.json", "hyperfine: CLI wall time"),
    ProfilerRow("*", "macos", "instruments", "xcrun xctrace record --template 'Time Profiler' "
                "--output {output} --launch -- {repro}", "trace.trace",
                "macOS Instruments (Time Profiler / Allocations)"),
)

CONCERN = {"memory_peak": "memory", "render_fps": "render", "bundle_size": "bundle",
           "db_query": "db", "cli_startup": "startup"}


@dataclass(frozen=True)
class Recommendation:
    tool: str
    command: str
    output_path: str
    note: str
    alternatives: tuple[str, ...] = ()


def _python_script(repro: str) -> tuple[str, str] | None:
    """('python', 'script.py args') when the repro is a plain python invocation."""
    try:
        argv = shlex.split(repro)
    except ValueError:
        return None
    if argv and re.fullmatch(r"(.*/)?python[0-9.]*", argv[0]) and len(argv) > 1:
        return argv[0], shlex.join(argv[1:])
    return None


def recommend(ctx: RepoContext, domain: str, repro: str, out_dir: str) -> Recommendation:
    """The profiler for this stack and domain, with a ready command writing under out_dir."""
    concern = CONCERN.get(domain, "cpu")
    py = _python_script(repro)
    language = "python" if ctx.language == "unknown" and py else ctx.language
    if language == "python" and concern == "startup":
        concern = "cpu"
    rows = [r for r in TABLE if r.concern == concern and r.stack in (language, "*")]
    rows.sort(key=lambda r: r.stack == "*")
    if rows and rows[0].tool == "cprofile" and py is None:
        rows = rows[1:] if shutil.which("py-spy") else rows  # cProfile needs a python script
    if not rows or (rows[0].tool == "cprofile" and py is None):
        rows = [r for r in TABLE if r.tool == "hyperfine"]
    row = rows[0]
    output = f"{out_dir}/{row.output}"
    python, script = py if py else ("python", repro)
    command = row.command.format(repro=repro, output=output, script=script, python=python,
                                 quoted=shlex.quote(repro))
    alts = tuple(r.tool for r in rows[1:])
    if row.tool == "cprofile" and shutil.which("py-spy") and "py-spy" not in alts:
        alts += ("py-spy",)
    return Recommendation(row.tool, command, output, row.note, alts)



# -- an existing benchmark harness, as a suite for the contract -------------------------------

def suite_for(root: Path, ctx: RepoContext | None = None) -> dict | None:
    """The `suite:` section for the harness the repository already uses, or None. Never runs
    anything; `perfgate init` offers it instead of a repro command."""
    ctx = ctx or detect(root)
    notes = " ".join(ctx.notes)
    if "asv.conf.json" in ctx.existing_benchmarks:
        return {"format": "asv", "command": "asv run -E existing --set-commit-hash "
                "$(git rev-parse HEAD) --record-samples -m perfgate"}
    if re.search(r"\bpytest-benchmark\b", notes):
        return {"format": "pytest-benchmark",
                "command": "python -m pytest -q --benchmark-only --benchmark-json={output}"}
    if ctx.language == "go" and any(b.endswith("_test.go") for b in ctx.existing_benchmarks):
        return {"format": "go-test",
                "command": "go test -run '^$' -bench . -benchmem -count 3 ./... > {output}"}
    if ctx.language in ("javascript", "typescript") and "package.json:scripts.bench" in \
            ctx.existing_benchmarks and _has_dep(root, "mitata"):
        return {"format": "mitata", "command": "npm run --silent bench > {output}"}
    return None


def _has_dep(root: Path, name: str) -> bool:
    try:
        pkg = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    deps = {**(pkg.get("dependencies") or {}), **(pkg.get("devDependencies") or {})} \
        if isinstance(pkg, dict) else {}
    return name in deps
