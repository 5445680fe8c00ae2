"""mitata's `run({format: 'json'})` output (the JavaScript harness)."""
from __future__ import annotations

from perfgate.suites import ParseError, Results, add, field, load_json, number, numbers

NS = 1e-9


def parse(text: str) -> Results:
    """Per run (a bench, or each of its args), `stats.samples` (nanoseconds per iteration)
    in seconds, else `stats.p50`. A run that threw is an error naming it."""
    doc = load_json(text)
    out: Results = {}
    for i, bench in enumerate(field(doc, "benchmarks", "", list)):
        where = f"benchmarks[{i}]"
        for j, run in enumerate(field(bench, "runs", where, list)):
            at = f"{where}.runs[{j}]"
            name = field(run, "name", at, str)
            if run.get("error") is not None:
                raise ParseError(at, f"benchmark {name} threw: {str(run['error'])[:200]}")
            stats = field(run, "stats", at, dict)
            samples = stats.get("samples")
            if samples is not None:
                values = [v * NS for v in numbers(samples, f"{at}.stats.samples")]
            else:
                values = [number(field(stats, "p50", f"{at}.stats"), f"{at}.stats.p50") * NS]
            add(out, name, "time", values, at)
    return out
