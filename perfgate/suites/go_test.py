"""`go test -bench` text output (what it prints; `-count=N` repeats each line)."""
from __future__ import annotations

import re

from perfgate.suites import ParseError, Results, number

# BenchmarkName[-GOMAXPROCS]  <iterations>  <value> <unit>  [<value> <unit>]...
LINE = re.compile(r"^(Benchmark\S*?)(?:-\d+)?\s+(\d+)((?:\s+[-+0-9.eE]+\s+\S+)+)\s*$")
PAIR = re.compile(r"([-+0-9.eE]+)\s+(\S+)")
# Units go reports, and the metric each becomes (ns/op in seconds, so `time` reads alike
# across harnesses); anything else (b.ReportMetric) keeps its unit as a name.
UNITS = {"ns/op": ("time", 1e-9), "B/op": ("bytes_per_op", 1.0),
         "allocs/op": ("allocs_per_op", 1.0), "MB/s": ("mb_per_s", 1.0)}


def parse(text: str) -> Results:
    """Every result line; a package header (`pkg: ...`) qualifies the names when the output
    has several packages that share a benchmark name."""
    rows: list[tuple[str, str, str, list[tuple[str, str]], int]] = []
    pkg = ""
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("pkg: "):
            pkg = line[5:].strip()
            continue
        m = LINE.match(line)
        if m:
            rows.append((pkg, m.group(1), m.group(2), PAIR.findall(m.group(3)), lineno))
    if not rows:
        raise ParseError("", "no benchmark result lines (`BenchmarkName-N  iterations  "
                         "value ns/op`); did the command run `go test -bench`?")
    packages = {}
    for p, name, *_ in rows:
        packages.setdefault(name, set()).add(p)
    out: Results = {}
    for p, name, _iters, pairs, lineno in rows:
        key = f"{p}.{name}" if len(packages[name]) > 1 else name
        for raw, unit in pairs:
            metric, scale = UNITS.get(unit, (_metric(unit), 1.0))
            try:
                value = float(raw)
            except ValueError:
                raise ParseError(f"line {lineno}", f"{raw!r} is not a number") from None
            value = number(value, f"line {lineno}") * scale
            out.setdefault(key, {}).setdefault(metric, []).append(value)
    return out


def _metric(unit: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", unit).strip("_") or "value"
