"""Native frames to the project's code by symbol: a Rust crate path, a Go package path, a C or
C++ function defined in the project. Profilers of compiled code (perf, callgrind without
debug info, collapsed stacks) often name a function and nothing else.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from perfgate import extents

NATIVE = (".rs", ".go", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx")
SKIP_DIRS = {".git", ".perfgate", "target", "node_modules", "vendor", "build", "dist", ".venv",
             "venv", "third_party", "external"}
MAX_FILES = 5000
_HASH = re.compile(r"::h[0-9a-f]{16}$")                  # a legacy-mangled Rust hash
_CLOSURE = re.compile(r"(::\{\{closure\}\}|::\{closure#\d+\}|\.func\d+(\.\d+)*|\.gowrap\d+)")


@dataclass(frozen=True)
class Located:
    file: str          # relative to the project root
    function: str
    line: int


@dataclass
class SymbolMap:
    """What of the project a symbol can name: its crates, its Go module, its definitions."""

    root: Path
    crates: set[str] = field(default_factory=set)
    go_module: str | None = None
    defs: dict[str, list[tuple[str, extents.Function]]] = field(default_factory=dict)

    def locate(self, symbol: str) -> Located | None:
        """The project's function a symbol names, or None (a library's, or unknown)."""
        s = _HASH.sub("", symbol.strip())
        s = _CLOSURE.sub("", s)
        if not s or s.startswith("[") or s == "???":
            return None
        if self.crates and "::" in s:
            hit = self._rust(s)
            if hit is not None:
                return hit
        if self.go_module is not None or s.startswith("main."):
            hit = self._go(s)
            if hit is not None:
                return hit
        return self._c(s)

    def _pick(self, name: str, suffixes: tuple[str, ...], receiver: str = "",
              hints: tuple[str, ...] = ()) -> Located | None:
        found = [(rel, f) for rel, f in self.defs.get(name, ()) if rel.endswith(suffixes)]
        if not found:
            return None

        def score(item: tuple[str, extents.Function]) -> tuple[int, int, str]:
            rel, f = item
            parts = Path(rel).with_suffix("").parts
            return (-(bool(receiver) and f.receiver == receiver),
                    -sum(h in parts for h in hints), rel)
        rel, f = min(found, key=score)
        if receiver and f.receiver and f.receiver != receiver:
            return None       # Gadget::draw is not Widget::draw
        return Located(rel, name, f.start)

    def _rust(self, s: str) -> Located | None:
        path = _rust_path(s)
        if len(path) < 2 or path[0] not in self.crates:
            return None
        name = path[-1]
        receiver = path[-2] if len(path) > 2 and path[-2][:1].isupper() else ""
        return self._pick(name, (".rs",), receiver, tuple(path[1:-1]))

    def _go(self, s: str) -> Located | None:
        s = re.sub(r"\[[^\]]*\]", "", s)            # generic instantiations: Map[...]
        slash = s.rfind("/")
        dot = s.find(".", slash + 1)
        if dot < 0:
            return None
        package, rest = s[:dot], s[dot + 1:]
        mine = package == "main" or (self.go_module is not None and (
            package == self.go_module or package.startswith(self.go_module + "/")))
        if not mine:
            return None
        m = re.match(r"^\(\*?(?P<recv>\w+)\)\.(?P<name>\w+)|^(?P<recv2>\w+)\.(?P<name2>\w+)$|"
                     r"^(?P<name3>\w+)", rest)
        if not m:
            return None
        name = m["name"] or m["name2"] or m["name3"]
        receiver = m["recv"] or m["recv2"] or ""
        hint = package.rsplit("/", 1)[-1]
        return self._pick(name, (".go",), receiver, (hint,))

    def _c(self, s: str) -> Located | None:
        s = re.sub(r"\(.*$", "", s)                  # a C++ signature: name(args) const
        s = re.sub(r"<[^<>]*>", "", s)
        parts = [p for p in s.split("::") if p]
        if not parts or not re.fullmatch(r"~?[A-Za-z_]\w*", parts[-1]):
            return None
        receiver = parts[-2] if len(parts) > 1 else ""
        return self._pick(parts[-1], (".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"),
                          receiver)


def _rust_path(s: str) -> list[str]:
    """`<crate::Foo as core::fmt::Display>::fmt` -> [crate, Foo, fmt]; generics dropped."""
    m = re.match(r"^<(?P<self>[^<>]+?)(?:<.*?>)?(?: as [^>]+)?>::(?P<rest>.+)$", s)
    if m:
        s = f"{m['self']}::{m['rest']}"
    s = s.lstrip("<&*").removeprefix("dyn ").removeprefix("impl ")
    depth, seg, out = 0, "", []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif depth == 0 and s.startswith("::", i):
            out.append(seg)
            seg = ""
            i += 2
            continue
        elif depth == 0:
            seg += c
        i += 1
    out.append(seg)
    return [p for p in (x.strip() for x in out) if p]


_MAPS: dict[Path, tuple[float, SymbolMap]] = {}


def symbol_map(root: Path) -> SymbolMap:
    """The project's symbol map (crates, Go module, native definitions), built once per root."""
    root = Path(root).resolve()
    stamp = max((p.stat().st_mtime for p in (root / "Cargo.toml", root / "go.mod") if p.exists()),
                default=0.0)
    cached = _MAPS.get(root)
    if cached and cached[0] == stamp:
        return cached[1]
    sm = SymbolMap(root, _crates(root), _go_module(root))
    for path in _sources(root):
        rel = str(path.relative_to(root))
        for f in extents.functions(path):
            sm.defs.setdefault(f.name, []).append((rel, f))
    _MAPS[root] = (stamp, sm)
    return sm


def _sources(root: Path) -> list[Path]:
    out: list[Path] = []
    stack = [root]
    while stack and len(out) < MAX_FILES:
        d = stack.pop()
        try:
            entries = sorted(d.iterdir())
        except OSError:
            continue
        for p in entries:
            if p.is_dir() and not p.is_symlink():
                if p.name not in SKIP_DIRS and not p.name.startswith("."):
                    stack.append(p)
            elif p.suffix in NATIVE:
                out.append(p)
    return out


def _crates(root: Path) -> set[str]:
    """Crate names of the root package and its workspace members (dashes become underscores)."""
    names: set[str] = set()
    manifests = [root / "Cargo.toml"]
    try:
        ws = tomllib.loads((root / "Cargo.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return names
    members = (ws.get("workspace") or {}).get("members") or []
    for pattern in members if isinstance(members, list) else []:
        manifests += sorted(root.glob(f"{pattern}/Cargo.toml"))
    for m in manifests:
        try:
            data = tomllib.loads(m.read_text())
        except (OSError, tomllib.TOMLDecodeError):
            continue
        for section in [data.get("package"), data.get("lib"), *(data.get("bin") or [])]:
            if isinstance(section, dict) and isinstance(section.get("name"), str):
                names.add(section["name"].replace("-", "_"))
    return names


def _go_module(root: Path) -> str | None:
    try:
        text = (root / "go.mod").read_text()
    except OSError:
        return None
    m = re.search(r"^module\s+(\S+)", text, re.MULTILINE)
    return m.group(1) if m else None
