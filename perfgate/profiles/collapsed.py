"""Collapsed stacks (`a;b;c 123`): py-spy --format raw, perf + stackcollapse, flamegraph input."""
from __future__ import annotations

import math
import re
from pathlib import Path

from perfgate.profiles import Frame, Profile, malformed

# py-spy writes frames as "function (file:line)"; perf/others as a bare symbol.
PYSPY = re.compile(r"^(?P<func>.*?) \((?P<file>.+?)(?::(?P<line>\d+))?\)$")


def frame(text: str) -> Frame:
    m = PYSPY.match(text.strip())
    if m:
        return Frame(m["file"], int(m["line"] or 0), m["func"])
    return Frame("", 0, text.strip())


def parse(path: Path) -> Profile:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise malformed(path, "not UTF-8 text, and not a known binary format") from None
    prof = Profile(source=str(path), unit="samples")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        stack, _, count = line.rstrip().rpartition(" ")
        try:
            weight = float(count)
        except ValueError:
            raise malformed(path, f"line {lineno}: expected 'frame;frame;... COUNT'") from None
        if weight < 0 or not math.isfinite(weight):
            raise malformed(path, f"line {lineno}: expected 'frame;frame;... COUNT'")
        # py-spy writes " N" for samples outside any Python frame: they count in the total.
        prof.stacks.append((tuple(frame(f) for f in stack.split(";") if f), weight))
    if not prof.stacks:
        raise malformed(path, "no stacks")
    return prof
