"""Repo recon for scoping: the stack, its runtime, package manager and benchmarks (what to
propose for it, set-up, build and profiler, is in stacks.py)."""
from __future__ import annotations

import json
import re
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


_C_SOURCES = ("*.c", "src/*.c", "*.cc", "*.cpp", "*.cxx", "src/*.cc", "src/*.cpp", "src/*.cxx")


def _native(root: Path, notes: list[str]) -> _Found | None:
    """C or C++ built by CMake, Meson or make."""
    build = next((pm for f, pm in (("CMakeLists.txt", "cmake"), ("meson.build", "meson"),
                                   ("Makefile", "make"), ("makefile", "make"))
                  if (root / f).exists()), None)
    sources = [p for pattern in _C_SOURCES for p in root.glob(pattern)]
    if build is None or not sources:
        return None
    cpp = any(p.suffix != ".c" for p in sources)
    return _Found("c++" if cpp else "c", "native (C++)" if cpp else "native (C)", build)


# Precedence when several manifests exist: the compiled/most specific stack first.
DETECTORS = (_rust, _go, _dart, _node, _python, _native)


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
