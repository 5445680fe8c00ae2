"""cProfile / pstats files (`python -m cProfile -o out.pstats`)."""
from __future__ import annotations

import marshal
from pathlib import Path

from perfgate.profiles import Frame, Profile, malformed


def looks_like(head: bytes) -> bool:
    """A marshalled dict ('{', maybe with the ref flag) whose first key is a tuple."""
    return len(head) > 1 and head[0] in (0x7B, 0xFB) and head[1] in (0x28, 0x29, 0xA8, 0xA9)


def parse(path: Path) -> Profile:
    try:
        raw = marshal.loads(Path(path).read_bytes())
    except (ValueError, EOFError, TypeError) as exc:
        raise malformed(path, f"not a pstats file: {exc}") from None
    if not isinstance(raw, dict) or not raw:
        raise malformed(path, "no functions in the pstats data")
    prof = Profile(source=str(path), unit="s")
    try:
        for (file, line, func), (_cc, nc, tt, ct, callers) in raw.items():
            frame = Frame(str(file), int(line), str(func))
            prof.table[frame] = (float(tt), float(ct), int(nc))
            prof.callers[frame] = {Frame(str(f), int(ln), str(fn)): float(v[2])
                                   for (f, ln, fn), v in callers.items()}
    except (TypeError, ValueError) as exc:
        raise malformed(path, f"unexpected pstats layout: {exc}") from None
    return prof
