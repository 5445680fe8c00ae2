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


def malformed(path: Path | str, why: str) -> UsageError:
    return UsageError(f"{path}: not a readable profile ({why})")


def load(path: Path) -> Profile:
    """Parse a profile, choosing the parser from the file's content, not its name."""
    from perfgate.profiles import chrome, collapsed, pstats_format, pyinstrument, speedscope

    path = Path(path)
    try:
        head = path.read_bytes()[:4096]
    except FileNotFoundError:
        raise UsageError(f"{path}: the profiler wrote no output there") from None
    except OSError as exc:
        raise malformed(path, exc.strerror or str(exc)) from None
    if not head.strip():
        raise malformed(path, "the file is empty")
    if pstats_format.looks_like(head):
        return pstats_format.parse(path)
    if head.lstrip()[:1] in (b"{", b"["):
        blob = head.decode("utf-8", errors="replace")
        if "speedscope" in blob:
            return speedscope.parse(path)
        if '"nodes"' in blob:
            return chrome.parse(path)
        if "root_frame" in blob or '"frame_id"' in blob or "pyinstrument" in blob:
            return pyinstrument.parse(path)
        raise malformed(path, "JSON, but not speedscope, Chrome .cpuprofile or pyinstrument")
    return collapsed.parse(path)
