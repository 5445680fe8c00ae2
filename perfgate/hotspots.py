"""Hotspots: rank the project's own functions in a profile; library time goes to its caller."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from perfgate import extents, symbols
from perfgate.profiles import Frame, Profile

HOTSPOTS_VERSION = 1
MIN_SHARE = 0.05
_FOREIGN = ("site-packages", "dist-packages", "node_modules", ".venv", "venv", "lib/python",
            "<frozen", "<built-in", "~")


@dataclass(frozen=True)
class Hotspot:
    file: str            # relative to the project root
    line_start: int
    line_end: int
    function: str
    self_share: float    # attributed self time / total (library time below it included)
    inclusive_share: float
    calls: int | None

    @property
    def key(self) -> str:
        """Stable identity across iterations (line numbers move when code is edited)."""
        return f"{self.file}::{self.function}"

    def to_dict(self) -> dict:
        return {**asdict(self), "key": self.key}


def project_file(file: str, root: Path) -> str | None:
    """The path relative to root when `file` is the project's own code, else None."""
    if not file or file.startswith("<") or any(f in file for f in _FOREIGN):
        return None
    p = Path(file)
    if not p.is_absolute():
        p = root / p
    try:
        rel = p.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return str(rel) if (root / rel).is_file() else None


def _attributed(profile: Profile, root: Path) -> tuple[dict, dict, dict]:
    """(self, inclusive, calls) per project frame, library time attributed to its caller."""
    own: dict[tuple[str, str, int], float] = {}
    incl: dict[tuple[str, str, int], float] = {}
    calls: dict[tuple[str, str, int], int] = {}
    known: dict[Frame, tuple[str, str, int] | None] = {}

    def key(f: Frame) -> tuple[str, str, int] | None:
        if f not in known:
            known[f] = _key(f, root)
        return known[f]

    if profile.stacks:
        for stack, weight in profile.stacks:
            keys = [key(f) for f in stack]
            mine = [k for k in keys if k]
            if not mine:
                continue
            own[mine[-1]] = own.get(mine[-1], 0.0) + weight   # nearest project frame
            for k in set(mine):
                incl[k] = incl.get(k, 0.0) + weight
        return own, incl, calls
    # cProfile keeps no stacks: walk each library function's time up the caller graph,
    # splitting it by how much time each caller spent in it, until it reaches project code.
    for frame, (tt, ct, nc) in profile.table.items():
        k = key(frame)
        if k:
            own[k] = own.get(k, 0.0) + tt
            incl[k] = max(incl.get(k, 0.0), ct)
            calls[k] = (calls.get(k) or 0) + (nc or 0)
            continue
        pending, seen = [(frame, tt)], set()
        while pending:
            f, amount = pending.pop()
            if f in seen or amount <= 0:
                continue
            seen.add(f)
            callers = profile.callers.get(f, {})
            total = sum(callers.values())
            for caller, t in callers.items():
                share = amount * (t / total if total else 1 / len(callers))
                ck = key(caller)
                if ck:
                    own[ck] = own.get(ck, 0.0) + share
                else:
                    pending.append((caller, share))
    return own, incl, calls


def _key(f: Frame, root: Path) -> tuple[str, str, int] | None:
    """The project function a frame belongs to: (file, function, line), or None."""
    rel = project_file(f.file, root)
    if not rel:
        # No usable path (perf and collapsed stacks, callgrind without debug info): the
        # symbol may still name the project's code (a crate or Go package path).
        if f.file and f.file not in ("???", "[unknown]") and Path(f.file).suffix not in \
                symbols.NATIVE:
            return None
        hit = symbols.symbol_map(root).locate(f.function)
        return (hit.file, hit.function, hit.line) if hit else None
    if f.function == "<module>":
        return (rel, "<module>", 0)
    # Samplers report the current line, cProfile and V8 the def line, comprehensions and
    # lambdas their own names: the function whose body holds the line is what a fixer edits.
    outer = extents.enclosing(root / rel, f.line, f.function) if f.line else None
    if outer:
        return (rel, outer.name, outer.start)
    if f.function in ("(anonymous)", "", "(root)", "(program)"):
        return (rel, "<module>", 0)      # a script's top level (V8 names it anonymously)
    return (rel, f.function, f.line)


def _line_range(root: Path, rel: str, function: str, line: int) -> tuple[int, int]:
    """The function's first and last line, from the source (profiles only know one line)."""
    if function == "<module>":
        return 1, 1
    return extents.extent(root / rel, function, line)


def rank(profile: Profile, root: Path, *, min_share: float = MIN_SHARE,
         exclude: set[str] = frozenset()) -> list[Hotspot]:
    """Project functions by attributed self time, then inclusive time; only those >= min_share."""
    total = profile.total
    if total <= 0:
        return []
    own, incl, calls = _attributed(profile, root)
    spots = []
    for k in set(own) | set(incl):
        rel, function, line = k
        start, end = _line_range(root, rel, function, line)
        spot = Hotspot(rel, start, end, function, own.get(k, 0.0) / total,
                       incl.get(k, 0.0) / total, calls.get(k))
        if spot.key not in exclude and spot.self_share >= min_share:
            spots.append(spot)
    spots.sort(key=lambda h: (-h.self_share, -h.inclusive_share, h.file, h.line_start))
    return spots


def excerpt(root: Path, spot: Hotspot, context: int = 0, limit: int = 60) -> str:
    """The hotspot's source lines, numbered, for the fixer's brief."""
    try:
        lines = (root / spot.file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    lo = max(1, spot.line_start - context)
    hi = min(len(lines), spot.line_end + context, lo + limit - 1)
    return "\n".join(f"{i:5d}  {lines[i - 1]}" for i in range(lo, hi + 1))
