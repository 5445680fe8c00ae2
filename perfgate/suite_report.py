"""Pure formatting of a suite's verdict: changed benchmarks first, a count of the unchanged,
then the geometric mean. Returns lines; nothing here prints."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

HEADER = ("benchmark", "role", "baseline median", "candidate median", "change",
          "95% CI of ratio", "adjusted p", "limit", "result")
SHOWN = ("regressed", "undecided", "improved", "slower")
RESULT = {"regressed": "REGRESSED", "undecided": "undecided", "improved": "improved",
          "slower": "slower (within limit)", "unchanged": "unchanged"}


def _num(x: object, digits: int = 4) -> str:
    from perfgate.report import num

    return num(x, digits)  # type: ignore[arg-type]


def _pct(x: object) -> str:
    return "–" if x is None else f"{x:+.1f}%"


def rows(doc: Mapping[str, object], *, everything: bool = False) -> list[list[str]]:
    """One row per changed (or undecided) benchmark, the largest change first; with
    `everything`, the unchanged ones follow."""
    benches: Sequence[Mapping] = doc.get("benchmarks") or []  # type: ignore[assignment]
    order = sorted(benches, key=lambda b: (SHOWN.index(b["status"]) if b["status"] in SHOWN
                                           else len(SHOWN), -abs(b["change_pct"] or 0)))
    out = []
    for b in order:
        if b["status"] not in SHOWN and not everything:
            continue
        if b["role"] == "primary":
            limit = f"≥ {b['limit_pct']:g}% better" if b["limit_pct"] is not None else "–"
        else:
            limit = f"≤ {b['limit_pct']:g}% worse" if b["limit_pct"] is not None else "–"
        result = RESULT.get(b["status"], b["status"])
        if b["role"] == "primary" and b["status"] != "undecided":
            result = "pass" if b["passed"] else "FAIL"
        out.append([b["name"], b["role"], _num(b["baseline_median"]),
                    _num(b["candidate_median"]), _pct(b["change_pct"]),
                    f"[{_num(b['ci_low'], 3)}, {_num(b['ci_high'], 3)}]",
                    _num(b["p_adjusted"], 3), limit, result])
    return out


def heading(doc: Mapping[str, object]) -> str:
    suite: Mapping = doc.get("suite") or {}  # type: ignore[assignment]
    benches: Sequence[Mapping] = doc.get("benchmarks") or []  # type: ignore[assignment]
    correction = suite.get("correction", "holm")
    how = "no correction" if correction == "none" else f"{correction} correction"
    return (f"{len(benches)} benchmarks ({suite.get('format', '')}; one sample per invocation, "
            f"its {suite.get('statistic', 'median')}; {how})")


def unchanged(doc: Mapping[str, object]) -> str:
    suite: Mapping = doc.get("suite") or {}  # type: ignore[assignment]
    n = suite.get("unchanged", 0)
    return f"{n} unchanged benchmark{'s' if n != 1 else ''} (adjusted p ≥ alpha)"


def geomean_line(doc: Mapping[str, object]) -> str | None:
    g: Mapping | None = (doc.get("suite") or {}).get("geomean")  # type: ignore[union-attr]
    if not g or g.get("ratio") is None:
        return None
    role = "the primary" if (doc.get("suite") or {}).get("primary") == "geomean" else "reported"
    return (f"geometric mean of the ratios ({role}): {g['ratio']:.4f} "
            f"(95% CI [{_num(g['ci_low'], 4)}, {_num(g['ci_high'], 4)}]), change "
            f"{_pct(g['change_pct'])}, bootstrap p = {_num(g['p_value'], 3)}")


def text_lines(doc: Mapping[str, object]) -> list[str]:
    """The suite part of `verdict_text`: changed, then the count unchanged, then the mean."""
    from perfgate.report import plain_table

    if not doc.get("benchmarks"):
        return []
    lines = ["", heading(doc)]
    shown = rows(doc)
    lines += [plain_table(HEADER, shown)] if shown else ["no benchmark changed"]
    lines.append(unchanged(doc))
    g = geomean_line(doc)
    return lines + ([g] if g else [])


def markdown_lines(doc: Mapping[str, object]) -> list[str]:
    """The suite part of the Markdown verdict and the CI summary: the changed benchmarks, the
    count of the unchanged (every row in a collapsed table), the geometric mean."""
    from perfgate.report import markdown_table

    if not doc.get("benchmarks"):
        return []
    lines = ["#### Benchmarks", "", heading(doc), ""]
    shown = rows(doc)
    lines += [markdown_table(HEADER, shown), ""] if shown else ["No benchmark changed.", ""]
    lines += [unchanged(doc), "", "<details><summary>every benchmark</summary>", "",
              markdown_table(HEADER, rows(doc, everything=True)), "", "</details>", ""]
    g = geomean_line(doc)
    return lines + ([g, ""] if g else [])


def runs_table(records: Sequence[object]) -> str:
    """`perfgate measure --suite`: per benchmark and metric, over the invocations (one value
    each), like `perfgate measure`'s table for one command."""
    from perfgate import stats
    from perfgate.report import num, plain_table

    rows = []
    names = sorted({b for r in records for b in r.benchmarks})  # type: ignore[attr-defined]
    for name in names:
        metrics = sorted({m for r in records for m in r.benchmarks.get(name, {})})  # type: ignore[attr-defined]
        for m in metrics:
            d = stats.describe([r.benchmarks[name][m] for r in records  # type: ignore[attr-defined]
                                if m in r.benchmarks.get(name, {})])  # type: ignore[attr-defined]
            cv = "–" if d.cv != d.cv else f"{d.cv * 100:.1f}%"
            rows.append([name, m, num(d.median), f"{num(d.mean)} ± {num(d.sd)}", cv, num(d.min),
                         num(d.max), str(d.n)])
    return plain_table(("benchmark", "metric", "median", "mean ± sd", "CV", "min", "max",
                        "invocations"), rows)


def runs_json(records: Sequence[object]) -> str:
    import json

    return json.dumps({"version": 1, "invocations": [
        {"wall_time": r.wall_time, "benchmarks": r.benchmarks, "points": r.points}  # type: ignore[attr-defined]
        for r in records]}, indent=2)
