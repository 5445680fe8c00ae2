"""valgrind --tool=callgrind output: self and inclusive cost per function, with its callers.

The profiler that works for compiled code everywhere valgrind runs (here, where `perf` has no
hardware counters, and on any Linux machine): it counts instructions, so its profile is exact
and free of timing noise. Callgrind keeps a call graph, not stacks, so the result is a table
like cProfile's; without debug info a function has no file (`???`) and is matched to the
project by its symbol (symbols.py). Format: valgrind's docs/callgrind-format.
"""
from __future__ import annotations

import re
from pathlib import Path

from perfgate.profiles import Frame, NoSamples, Profile, malformed

_NAMED = re.compile(r"^\((\d+)\)(?:\s(.*))?$")


def looks_like(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")
    return text.startswith("# callgrind format") or (
        re.search(r"^events:", text, re.MULTILINE) is not None
        and re.search(r"^(fn|fl|ob)=", text, re.MULTILINE) is not None)


def parse(path: Path) -> Profile:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise malformed(path, exc.strerror or str(exc)) from None
    names: dict[str, dict[str, str]] = {"fl": {}, "fn": {}}
    own: dict[tuple[str, str], float] = {}
    incl: dict[tuple[str, str], float] = {}
    ncalls: dict[tuple[str, str], int] = {}
    callers: dict[tuple[str, str], dict[tuple[str, str], float]] = {}
    first_line: dict[tuple[str, str], int] = {}
    file = cfile = ""
    fn: tuple[str, str] | None = None
    callee: tuple[str, str] | None = None
    in_call = False                    # after calls=: the next cost line is the call's
    pending_calls = 0
    last_pos = 0
    events = 0

    def name(kind: str, value: str) -> str:
        table = names["fl" if kind in ("fl", "fi", "fe", "cfi", "cfl") else "fn"]
        m = _NAMED.match(value.strip())
        if not m:
            return value.strip()
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), f"({m.group(1)})")

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head = line[0]
        if head.isdigit() or head in "+-*":
            parts = line.split()
            pos = parts[0]
            try:
                if pos == "*":
                    at = last_pos
                elif pos[0] in "+-":
                    at = last_pos + int(pos)
                else:
                    at = int(pos, 0)
                cost = float(parts[1]) if len(parts) > 1 else 0.0
            except ValueError:
                raise malformed(path, f"line {lineno}: expected 'position cost'") from None
            last_pos = at
            if fn is None:
                continue
            if in_call and callee is not None:   # the inclusive cost of the call just named
                incl[fn] = incl.get(fn, 0.0) + cost
                by = callers.setdefault(callee, {})
                by[fn] = by.get(fn, 0.0) + cost
                ncalls[callee] = ncalls.get(callee, 0) + pending_calls
                callee, in_call = None, False
                continue
            own[fn] = own.get(fn, 0.0) + cost
            incl[fn] = incl.get(fn, 0.0) + cost
            if at > 0:
                first_line[fn] = min(first_line.get(fn, at), at)
            continue
        key, sep, value = line.partition("=")
        if not sep:
            if line.startswith("events:"):
                events = len(line.split()[1:])
            continue
        if key in ("fl", "fi", "fe"):
            f = name(key, value)
            if key == "fl":
                file = f
        elif key == "fn":
            fn = (name("fn", value), file)
            own.setdefault(fn, 0.0)
            callee, in_call = None, False
        elif key in ("cfi", "cfl"):
            cfile = name(key, value)
        elif key == "cfn":
            callee = (name("fn", value), cfile or file)
            cfile = ""
        elif key == "calls":
            try:
                pending_calls = int(value.split()[0])
            except (ValueError, IndexError):
                raise malformed(path, f"line {lineno}: expected 'calls=COUNT POSITION'") \
                    from None
            if callee is None:
                raise malformed(path, f"line {lineno}: calls= without a cfn= before it")
            in_call = True
    if not events or not own:
        raise malformed(path, "no functions with costs (not callgrind output?)")

    def frame(k: tuple[str, str]) -> Frame:
        fn_name, fl = k
        return Frame("" if fl in ("???", "") else fl, first_line.get(k, 0), fn_name)

    prof = Profile(source=str(path), unit="instructions")
    for k in own:
        prof.table[frame(k)] = (own[k], incl.get(k, own[k]), ncalls.get(k))
    for k, by in callers.items():
        prof.callers[frame(k)] = {frame(c): v for c, v in by.items()}
    if prof.total <= 0:
        raise NoSamples(path)
    return prof
