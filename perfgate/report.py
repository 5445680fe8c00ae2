"""Pure formatting: Markdown tables and text lines. Nothing here prints or reads files."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from perfgate import suite_report
from perfgate.metrics import BUILTIN_METRICS


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
        rows.append([name, units.get(name) or BUILTIN_METRICS.get(name, ""), str(s.n),
                     num(s.median), num(s.mean),
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
    rows = []
    for name in names:
        d = stats.describe([r.metrics[name] for r in records if name in r.metrics])
        rows.append([name, BUILTIN_METRICS.get(name, ""), f"{num(d.mean)} ± {num(d.sd)}", num(d.median),
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


VERDICT_HEADER = ("metric", "role", "baseline median", "candidate median", "change",
                  "95% CI of ratio", "p", "limit", "result")


def verdict_rows(doc: Mapping[str, object]) -> list[list[str]]:
    """One row per metric of a verdict document; change is positive when better."""
    rows = []
    p = doc.get("primary")
    if p:
        limit = threshold_text(doc.get("threshold") or {}, p.get("unit", ""), p.get("alpha"),
                               doc.get("mode", "improvement"))
        rows.append([p["name"], "primary", num(p["baseline_median"]), num(p["candidate_median"]),
                     _pct(p["change_pct"]), f"[{num(p['ci_low'], 3)}, {num(p['ci_high'], 3)}]",
                     num(p["p_value"], 3), str(limit),
                     "pass" if p["passed"] else
                     ("undecided" if doc.get("verdict") == "inconclusive" else "FAIL")])
    for w in doc.get("watchdogs", []):
        rows.append([w["name"], "watchdog", num(w["baseline_median"]), num(w["candidate_median"]),
                     _pct(w["change_pct"]), "–", "–", f"≤ {w['max_regression_pct']:g}% worse",
                     "pass" if w["passed"] else
                     # an inconclusive verdict has no clear "no": a watchdog short of a pass
                     # is one whose regression was not yet ruled out
                     ("undecided" if doc.get("verdict") == "inconclusive" else "FAIL")])
    return rows


def threshold_text(t: Mapping[str, object], unit: str, alpha: object,
                   mode: object = "improvement") -> str:
    """What the primary must do: `≥ 20% better, p < 0.05`; in no-regression mode both ends:
    `passes when ≥ 20% worse is ruled out, fails at ≥ 20% worse, p < 0.05`."""
    way = "worse" if mode == "no-regression" else "better"
    parts = []
    if t.get("type") in ("pct", "both"):
        parts.append(f"≥ {t['pct_min']:g}% {way}")
    if t.get("type") in ("absolute", "both"):
        parts.append(f"≥ {t['absolute_min']:g} {unit} {way}")
    if t.get("significance_required") and alpha is not None:
        parts.append(f"p < {alpha:.3g}")
    text = ", ".join(parts) or "–"
    if mode == "no-regression" and parts:
        if not t.get("significance_required"):
            return f"fails at {text}"
        return f"passes when {parts[0]} is ruled out, fails at {text}"
    return text


def sequential_text(doc: Mapping[str, object]) -> str | None:
    """How many runs the decision took: one line, or None for a fixed-N gate."""
    seq = doc.get("sequential") or {}
    if not seq.get("adaptive"):
        return None
    rounds = seq["rounds"]
    return (f"adaptive: {rounds} round{'s' if rounds != 1 else ''} of runs, "
            f"{seq['runs_per_side']} per side (look {seq['looks']} of {seq['planned_looks']}, "
            f"alpha at this look {num(seq.get('look_alpha'), 3)})")


def _pct(x: object) -> str:
    return "–" if x is None else f"{x:+.1f}%"


def verdict_markdown(contract: str, doc: Mapping[str, object], plot: str | None = None) -> str:
    lines = [f"# Gate: {contract} — {str(doc['verdict']).upper()}", ""]
    if doc.get("primary"):
        lines += [markdown_table(VERDICT_HEADER, verdict_rows(doc)), ""]
    if sequential_text(doc):
        lines += [sequential_text(doc), ""]
    lines += suite_report.markdown_lines(doc)
    reasons = doc.get("reasons") or []
    lines += ["## Reasons", ""] + ([f"- {r}" for r in reasons] or ["- every condition held"])
    if doc.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- **warning:** {w}" for w in doc["warnings"]]
    if plot:
        lines += ["", f"![samples]({plot})"]
    return "\n".join(lines) + "\n"


def verdict_text(doc: Mapping[str, object]) -> str:
    """The verdict for a terminal: a table and the reasons."""
    lines = [f"verdict: {doc['verdict']}"]
    if doc.get("primary"):
        lines += ["", plain_table(VERDICT_HEADER, verdict_rows(doc))]
    if sequential_text(doc):
        lines.append(sequential_text(doc))
    lines += suite_report.text_lines(doc)
    lines += [f"- {r}" for r in doc.get("reasons") or []]
    lines += [f"warning: {w}" for w in doc.get("warnings") or []]
    return "\n".join(lines)


def json_document(doc: Mapping[str, object]) -> str:
    import json

    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def summary_markdown(doc: Mapping[str, object], *, title: str, plot: str | None = None) -> str:
    """The CI summary: a status line, a table per metric, the reasons, the plot's link."""
    mode = doc.get("mode", "improvement")
    lines = [f"**perfgate: {doc['verdict']}** — {title} (mode: {mode})", ""]
    p = doc.get("primary")
    metrics = ([("primary", p)] if p else []) + [("watchdog", w) for w in doc.get("watchdogs", [])]
    for role, m in metrics:
        direction = "lower" if m.get("lower_is_better", True) else "higher"
        lines += [f"#### {m['name']} ({role}, {m.get('unit') or 'no unit'}, {direction} is better)",
                  "", "| | value |", "|---|---|",
                  f"| base median | {num(m['baseline_median'])} |",
                  f"| head median | {num(m['candidate_median'])} |",
                  f"| change (positive is better) | {_pct(m['change_pct'])} |"]
        if role == "primary":
            test = {"mann_whitney": "one-sided Mann-Whitney",
                    "wilcoxon": "one-sided Wilcoxon signed-rank, paired runs", "geomean_bootstrap":
                    "bootstrap of the geometric mean"}.get(m.get("test"), "2-sigma rule")
            ratio = ("ratio of paired runs (median)" if m.get("test") == "wilcoxon"
                     else "median ratio")
            lines += [f"| 95% CI of the {ratio} | [{num(m['ci_low'], 3)}, "
                      f"{num(m['ci_high'], 3)}] |",
                      f"| p ({test}) | {num(m['p_value'], 3)} |",
                      f"| n | {m['n_baseline']} vs {m['n_candidate']}"
                      + (f" ({sequential_text(doc)})" if sequential_text(doc) else "") + " |",
                      "| limit | " + threshold_text(doc.get("threshold") or {}, m.get("unit", ""),
                                                   m.get("alpha"), mode) + " |"]
        else:
            lines.append(f"| limit | ≤ {m['max_regression_pct']:g}% worse |")
        result = "pass" if m["passed"] else (
            "undecided" if doc.get("verdict") == "inconclusive" else "FAIL")
        lines += [f"| result | {result} |", ""]
    lines += suite_report.markdown_lines(doc)
    reasons = doc.get("reasons") or []
    lines += ["#### Reasons", ""] + ([f"- {r}" for r in reasons] or ["- every condition held"])
    lines += [f"- **warning:** {w}" for w in doc.get("warnings") or []]
    if plot:
        lines += ["", f"[Plot of both samples]({plot})"]
    return "\n".join(lines) + "\n"


def history_table(columns: Sequence[str], data: Sequence[Sequence[object]], metric: str, *,
                  lower_is_better: bool = True) -> str:
    """`perfgate history`: date, contract, commit, role, n, median, change, verdict. The change
    against the session before is positive when better, as in the verdict tables."""
    if not data:
        return f"no complete sessions with {metric} yet"
    idx = {c: i for i, c in enumerate(columns)}
    # Several machines (a shared store): say which, since each line's change is against the
    # same machine's previous session.
    machines = "machine" in idx and len({r[idx["machine"]] for r in data}) > 1
    rows = []
    for r in data:
        change = r[idx["change_pct"]]
        if change is not None and lower_is_better:
            change = -change          # the query's change is the number's: up is positive
        rows.append([str(r[idx["started"]])[:19], r[idx["contract"]],
                     *([str(r[idx["machine"]])] if machines else []),
                     (r[idx["commit_sha"]] or "")[:12], r[idx["role"]], str(r[idx["n"]]),
                     num(r[idx["median"]]), "–" if change is None else f"{change:+.1f}%",
                     r[idx["verdict"]] or "–"])
    return plain_table(("date", "contract", *(["machine"] if machines else []), "commit",
                        "role", "n", f"median {metric}", "change (+ better)", "verdict"), rows)


def attempts_table(attempts: Sequence[object]) -> str:
    """report.md: one row per attempt of the loop, each saying why it ended as it did."""
    rows = []
    for i, t in enumerate(attempts, 1):
        change = "–" if t.change_pct is None else f"{t.change_pct:+.1f}%"
        if t.verdict == "accepted":
            why = "cleared the threshold, significant, no watchdog regressed"
        else:
            why = (t.reason or "–").replace("|", "/").replace("\n", " ")
            why = why if len(why) <= 240 else why[:239] + "…"
        kept = (t.commit or "")[:12] or (f"`{t.patch}`" if t.patch else "–")
        rows.append([str(i), f"`{t.name}`", t.verdict, change, num(t.p_value, 3), why, kept])
    return markdown_table(("#", "hotspot", "verdict", "change", "p", "why", "kept as"), rows)
