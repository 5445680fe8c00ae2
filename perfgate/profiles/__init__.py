"""Profiles: one parser per format, all producing weighted call stacks or per-function stats."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from perfgate.errors import UsageError


@dataclass(frozen=True)
class Frame:
    """A function in a profile: where it is and what it is called."""

    file: str
    line: int
    function: str


@dataclass
class Profile:
    """What every parser returns.

    `stacks`: (root → leaf frames, weight) samples, for formats that keep call stacks.
    `table`: per-function (self, inclusive, calls) plus callers, for formats that only keep a
    call graph (cProfile). `unit` names the weight: seconds or samples.
    """

    source: str
    unit: str
    stacks: list[tuple[tuple[Frame, ...], float]] = field(default_factory=list)
    table: dict[Frame, tuple[float, float, int | None]] = field(default_factory=dict)
    callers: dict[Frame, dict[Frame, float]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        if self.stacks:
            return sum(w for _, w in self.stacks)
        return sum(s for s, _, _ in self.table.values())


class NoSamples(UsageError):
    """A well-formed profile with nothing in it: the code ran too briefly to be sampled."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(f"{path}: not a readable profile (no samples: the profiled run was too "
                         "short to be sampled; profile a longer workload)")


def malformed(path: Path | str, why: str) -> UsageError:
    return UsageError(f"{path}: not a readable profile ({why})")


GLOB_CHARS = "*?["


def outputs(base: Path, output_path: str) -> list[Path]:
    """The files a profiler wrote at `output_path` (under `base`): the file itself, every file
    in a directory (node --cpu-prof-dir, clinic), or the matches of a glob (a generated name)."""
    if any(ch in output_path for ch in GLOB_CHARS):
        return sorted(p for p in base.glob(output_path) if p.is_file())
    p = base / output_path
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file())
    return [p] if p.is_file() else []


def load(path: Path) -> Profile:
    """Parse a profile, choosing the parser from the file's content, not its name. A directory
    is every profile in it (one per process: node --cpu-prof writes one per node process)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(f for f in path.rglob("*") if f.is_file())
        if not files:
            raise UsageError(f"{path}: the profiler wrote no output there (an empty directory)")
        return merge([load_file(f) for f in files], str(path))
    return load_file(path)


def merge(profiles: list[Profile], source: str) -> Profile:
    """Several processes' profiles as one: stacks and table rows side by side."""
    if len(profiles) == 1:
        return profiles[0]
    out = Profile(source=source, unit=profiles[0].unit)
    for p in profiles:
        out.stacks += p.stacks
        for frame, (own, incl, calls) in p.table.items():
            o, i, c = out.table.get(frame, (0.0, 0.0, None))
            out.table[frame] = (o + own, i + incl, None if calls is None and c is None
                                else (c or 0) + (calls or 0))
        for frame, by in p.callers.items():
            mine = out.callers.setdefault(frame, {})
            for caller, v in by.items():
                mine[caller] = mine.get(caller, 0.0) + v
    if out.stacks and out.table:
        raise UsageError(f"{source}: profiles of different kinds (stacks and call graphs) "
                         "cannot be merged; write one kind")
    return out


def _json_start(head: bytes) -> bool:
    """JSON starts with { or with [ and a value; collapsed stacks may start with `[unknown]`."""
    text = head.lstrip()
    if text[:1] == b"{":
        return True
    return text[:1] == b"[" and text[1:].lstrip()[:1] in (b"{", b"[", b'"', b"]") or \
        (text[:1] == b"[" and text[1:].lstrip()[:1].isdigit())


def load_file(path: Path) -> Profile:
    from perfgate.profiles import (
        callgrind,
        chrome,
        collapsed,
        pprof,
        pstats_format,
        pyinstrument,
        speedscope,
    )

    try:
        head = path.read_bytes()[:4096]
    except FileNotFoundError:
        raise UsageError(f"{path}: the profiler wrote no output there") from None
    except IsADirectoryError:
        return load(path)
    except OSError as exc:
        raise malformed(path, exc.strerror or str(exc)) from None
    if not head.strip():
        raise malformed(path, "the file is empty")
    if pstats_format.looks_like(head):
        return pstats_format.parse(path)
    if pprof.looks_like(head):
        return pprof.parse(path)
    if callgrind.looks_like(head):
        return callgrind.parse(path)
    if _json_start(head):
        blob = head.decode("utf-8", errors="replace")
        if "speedscope" in blob:
            return speedscope.parse(path)
        if '"nodes"' in blob:
            return chrome.parse(path)
        if "root_frame" in blob or '"frame_id"' in blob or "pyinstrument" in blob:
            return pyinstrument.parse(path)
        raise malformed(path, "JSON, but not speedscope, Chrome .cpuprofile or pyinstrument")
    return collapsed.parse(path)
