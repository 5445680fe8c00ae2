"""Pure formatting: Markdown tables and text lines. Nothing here prints or reads files."""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence


def metric_spec(m) -> str:
    """A metric as the seed workflow writes it: `{name, unit, lower_is_better[, max_regression_pct]}`."""
    parts = [f"name: {m.name}", f"unit: {m.unit}", f"lower_is_better: {str(m.lower_is_better).lower()}"]
    if getattr(m, "max_regression_pct", None) is not None:
        parts.append(f"max_regression_pct: {m.max_regression_pct:g}")
    if m.regex:
        parts.append(f"regex: {m.regex!r}")
    if m.file_size:
        parts.append(f"file_size: {m.file_size!r}")
    return "{" + ", ".join(parts) + "}"


def num(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


SUMMARY_HEADER = ("metric", "unit", "n", "median", "mean", "sd", "CV", "min", "max")


def summary_rows(summaries: Mapping[str, object], units: Mapping[str, str]) -> list[list[str]]:
    """One row per metric from store Summary objects (n, median, mean, sd, cv, min, max)."""
    rows = []
    for name, s in summaries.items():
        cv = "–" if s.cv is None or not math.isfinite(s.cv) else f"{s.cv * 100:.1f}%"
        rows.append([name, units.get(name, ""), str(s.n), num(s.median), num(s.mean),
                     num(s.sd), cv, num(s.min), num(s.max)])
    return rows


def summary_table(summaries: Mapping[str, object], units: Mapping[str, str]) -> str:
    return markdown_table(SUMMARY_HEADER, summary_rows(summaries, units))


def runs_json(records: Sequence[object]) -> str:
    """`perfgate measure --json`: one object per measured run, versioned."""
    import json

    runs = [{"wall_time": r.wall_time, "cpu_time": r.cpu_time, "peak_rss": r.peak_rss,
             "exit_code": r.exit_code, "stdout_sha256": r.stdout_sha256,
             "metrics": {k: v for k, v in r.metrics.items()
                         if k not in ("wall_time", "cpu_time", "peak_rss")}}
            for r in records]
    return json.dumps({"version": 1, "runs": runs}, indent=2)


def runs_table(records: Sequence[object]) -> str:
    """`perfgate measure`: mean ± sd, median, min, max per metric, like hyperfine's summary."""
    from perfgate import stats

    names: list[str] = []
    for r in records:
        names += [k for k in r.metrics if k not in names]
    units = {"wall_time": "s", "cpu_time": "s", "peak_rss": "MB"}
    rows = []
    for name in names:
        d = stats.describe([r.metrics[name] for r in records if name in r.metrics])
        rows.append([name, units.get(name, ""), f"{num(d.mean)} ± {num(d.sd)}", num(d.median),
                     num(d.min), num(d.max), str(d.n)])
    return plain_table(("metric", "unit", "mean ± sd", "median", "min", "max", "n"), rows)


def plain_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*map(str, row)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def rows(columns: Sequence[str], data: Sequence[Sequence[object]], fmt: str) -> str:
    """Query results as table, csv or json (`perfgate sql --format`)."""
    import csv
    import io
    import json

    if fmt == "json":
        return json.dumps([dict(zip(columns, r)) for r in data], indent=2, default=str)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows(data)
        return buf.getvalue().rstrip("\n")
    cells = [["" if v is None else (num(v, 6) if isinstance(v, float) else str(v)) for v in r]
             for r in data]
    return plain_table(list(columns), cells) if columns else ""
