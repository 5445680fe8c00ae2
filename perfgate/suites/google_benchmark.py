"""Google Benchmark's `--benchmark_format=json` (or `--benchmark_out=FILE`) output."""
from __future__ import annotations

import math

from perfgate.suites import ParseError, Results, field, load_json, number

UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse(text: str) -> Results:
    """One data point per repetition (`run_type: iteration`), real and CPU time per
    iteration in seconds; the aggregates (mean, median, stddev, cv) are skipped: perfgate
    computes its own from the repetitions."""
    doc = load_json(text)
    out: Results = {}
    for i, entry in enumerate(field(doc, "benchmarks", "", list)):
        where = f"benchmarks[{i}]"
        if not isinstance(entry, dict):
            raise ParseError(where, f"must be an object, got {type(entry).__name__}")
        if entry.get("run_type", "iteration") == "aggregate":
            continue
        name = entry.get("run_name") or field(entry, "name", where, str)
        if not isinstance(name, str):
            raise ParseError(f"{where}.run_name", "must be a string")
        if entry.get("error_occurred"):
            raise ParseError(where, f"benchmark {name} failed: "
                             f"{str(entry.get('error_message', ''))[:200]}")
        unit = entry.get("time_unit", "ns")
        if unit not in UNITS:
            raise ParseError(f"{where}.time_unit", f"must be one of ns, us, ms, s, got {unit!r}")
        scale = UNITS[unit]
        metrics = out.get(name) or out.setdefault(name, {})
        for key, metric in (("real_time", "time"), ("cpu_time", "cpu")):
            value = entry.get(key)
            if type(value) is not float and type(value) is not int or not math.isfinite(value):
                value = number(field(entry, key, where), f"{where}.{key}")
            metrics.setdefault(metric, []).append(value * scale)
    return out
