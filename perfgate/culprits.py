"""What a bisection finds, as data: the commits of good..bad, the pairs it judged, the
culprits, and the outcome. perfgate.bisect produces them; findings writes them down."""
from __future__ import annotations

from dataclasses import dataclass, field

from perfgate import shift


@dataclass
class Point:
    """One commit of good..bad."""

    position: int                   # 0 is good, n - 1 is bad
    sha: str
    subject: str = ""
    author: str = ""
    tree: str | None = None         # the worktree's tree once prepared
    skipped: str | None = None      # why it could not be measured
    sessions: list[int] = field(default_factory=list)   # sessions that measured it


@dataclass
class Judged:
    """A pair of commits measured together and judged."""

    before: int                     # positions
    after: int
    shift: shift.Shift
    step: int | None                # the step that measured it; None when reused
    sessions: tuple[int, int]
    reused: bool = False


@dataclass
class Culprit:
    before: int                     # the last measured commit before the move
    after: int                      # the first measured commit after it
    judged: Judged

    @property
    def candidates(self) -> list[int]:
        """Positions that may hold the move: one, unless skipped commits hide it."""
        return list(range(self.before + 1, self.after + 1))


@dataclass
class Outcome:
    result: str                     # found | no change | inconclusive
    points: list[Point]
    culprits: list[Culprit]
    unclear: list[Judged]
    judged: list[Judged]
    overall: Judged | None          # good against bad, from the first step's sessions
    bisection: int
    steps: int
    verifies: int
