"""`go test -bench` text output (what it prints; `-count=N` repeats each line)."""
from __future__ import annotations

import math
import re

from perfgate.suites import ParseError, Results

# BenchmarkName[-GOMAXPROCS]  <iterations>  <value> <unit>  [<value> <unit>]...
# (split on whitespace rather than one regular expression: 60,000 lines parse in tens of ms)
PROCS = re.compile(r"-\d+$")
# Units go reports, and the metric each becomes (ns/op in seconds, so `time` reads alike
# across harnesses); anything else (b.ReportMetric) keeps its unit as a name.
UNITS = {"ns/op": ("time", 1e-9), "B/op": ("bytes_per_op", 1.0),
         "allocs/op": ("allocs_per_op", 1.0), "MB/s": ("mb_per_s", 1.0)}


def parse(text: str) -> Results:
    """Every result line; a package header (`pkg: ...`) qualifies the names when the output
    has several packages that share a benchmark name."""
    rows: list[tuple[str, str, list[str], int]] = []
    pkg = ""
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("pkg: "):
            pkg = line[5:].strip()
            continue
        if not line.startswith("Benchmark"):
            continue
        parts = line.split()
        if len(parts) < 4 or len(parts) % 2 or not parts[1].isdigit():
            continue   # a benchmark's name printed before its log lines, or a log line
        rows.append((pkg, PROCS.sub("", parts[0]), parts[2:], lineno))
    if not rows:
        raise ParseError("", "no benchmark result lines (`BenchmarkName-N  iterations  "
                         "value ns/op`); did the command run `go test -bench`?")
    packages: dict[str, set[str]] = {}
    for p, name, *_ in rows:
        packages.setdefault(name, set()).add(p)
    out: Results = {}
    for p, name, pairs, lineno in rows:
        key = f"{p}.{name}" if len(packages[name]) > 1 else name
        metrics = out.setdefault(key, {})
        for raw, unit in zip(pairs[::2], pairs[1::2]):
            metric, scale = UNITS[unit] if unit in UNITS else (_metric(unit), 1.0)
            try:
                value = float(raw)
            except ValueError:
                raise ParseError(f"line {lineno}", f"{raw!r} is not a number") from None
            if not math.isfinite(value):
                raise ParseError(f"line {lineno}", f"must be a finite number, got {raw!r}")
            metrics.setdefault(metric, []).append(value * scale)
    return out


def _metric(unit: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", unit).strip("_") or "value"
