"""pytest-benchmark's `--benchmark-json` file: per test, its rounds (or their median)."""
from __future__ import annotations

from perfgate.suites import Results, add, field, load_json, number, numbers


def parse(text: str) -> Results:
    """Each test's `stats.data` (every round, in seconds, with --benchmark-save-data), else
    its `stats.median`. Names are pytest's `name`, or `fullname` when two files share one."""
    doc = load_json(text)
    entries = field(doc, "benchmarks", "", list)
    names = [field(field(doc["benchmarks"], i, "benchmarks", dict), "name",
                   f"benchmarks[{i}]", str) for i in range(len(entries))]
    clash = len(set(names)) < len(names)
    out: Results = {}
    for i, entry in enumerate(entries):
        where = f"benchmarks[{i}]"
        name = field(entry, "fullname", where, str) if clash else names[i]
        stats = field(entry, "stats", where, dict)
        data = stats.get("data")
        if data is not None:
            values = numbers(data, f"{where}.stats.data")
        else:
            values = [number(field(stats, "median", f"{where}.stats"), f"{where}.stats.median")]
        add(out, name, "time", values, where)
    return out
