"""hyperfine's `--export-json` file: per command, the time of each of its runs."""
from __future__ import annotations

from perfgate.suites import Results, add, field, load_json, number, numbers


def parse(text: str) -> Results:
    """`results[].times` (seconds, one per run), else `results[].median`; the name is the
    command, or its `-n/--command-name`, which hyperfine writes into `command`."""
    doc = load_json(text)
    out: Results = {}
    for i, entry in enumerate(field(doc, "results", "", list)):
        where = f"results[{i}]"
        name = field(entry, "command", where, str)
        times = entry.get("times") if isinstance(entry, dict) else None
        if times is not None:
            values = numbers(times, f"{where}.times")
        else:
            values = [number(field(entry, "median", where), f"{where}.median")]
        add(out, name, "time", values, where)
        for key, metric in (("user", "user_time"), ("system", "system_time")):
            if isinstance(entry.get(key), int | float) and not isinstance(entry[key], bool):
                add(out, name, metric, [number(entry[key], f"{where}.{key}")], where)
    return out
