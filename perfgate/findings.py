"""What bisect and detect found, as documents, Markdown and terminal text. Pure formatting."""
from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from perfgate.artifacts import Artifact
from perfgate.change import signed
from perfgate.report import markdown_table, num, plain_table

DOCUMENT_VERSION = 1


def _metric(contract) -> dict[str, Any]:
    p = contract.metrics.primary
    return {"name": p.name, "unit": p.unit, "lower_is_better": p.lower_is_better}


def _threshold(contract) -> dict[str, Any]:
    t = contract.threshold
    return {"type": t.type, "pct_min": t.pct_min, "absolute_min": t.absolute_min,
            "significance_required": t.significance_required,
            "alpha": contract.significance.alpha, "test": contract.significance.test}


# -- bisect ---------------------------------------------------------------------------------

def bisect_document(ws, outcome, *, good_ref: str, bad_ref: str,
                    values: Mapping[int, list[float]], runs: tuple[int, int],
                    contract=None) -> dict[str, Any]:
    """bisect.json: the culprits, what stayed unclear, what was skipped, every comparison,
    every measured commit with its median and CI, and what it all cost."""
    from perfgate import stats

    c, pts = contract or ws.contract, outcome.points

    def commit(pos: int) -> dict[str, Any]:
        pt = pts[pos]
        return {"commit": pt.sha, "position": pos, "subject": pt.subject, "author": pt.author}

    def pair(j) -> dict[str, Any]:
        return {"before": commit(j.before), "after": commit(j.after), "step": j.step,
                "reused": j.reused, "sessions": list(j.sessions), **j.shift.to_dict()}

    points = []
    for pos, vals in sorted(values.items()):
        lo, hi = stats.bootstrap_median_ci(vals)
        points.append({**commit(pos), "n": len(vals), "median": statistics.median(vals),
                       "ci_low": lo, "ci_high": hi})
    culprits = []
    for k in outcome.culprits:
        culprits.append({**commit(k.after), **{key: v for key, v in pair(k.judged).items()
                                                 if key not in ("after",)},
                         "candidates": [pts[p].sha for p in k.candidates]})
    n = len(pts)
    return {
        "version": DOCUMENT_VERSION, "result": outcome.result, "contract": c.name,
        "bisection": outcome.bisection, "metric": _metric(c), "threshold": _threshold(c),
        "good": {"ref": good_ref, "commit": pts[0].sha}, "bad": {"ref": bad_ref,
                                                                 "commit": pts[-1].sha},
        "commits": n, "culprits": culprits,
        "unclear": [pair(j) for j in outcome.unclear],
        "skipped": [{**commit(p.position), "reason": p.skipped} for p in pts if p.skipped],
        "overall": pair(outcome.overall) if outcome.overall else None,
        "comparisons": [pair(j) for j in outcome.judged], "points": points,
        "runs": {"measured": runs[0], "warmup": runs[1], "verify": outcome.verifies,
                 "steps": outcome.steps, "commits_measured": len(points),
                 "reused_comparisons": sum(1 for j in outcome.judged if j.reused),
                 "every_commit": n * c.repro.measurement_runs}}


def _culprit_rows(doc: Mapping[str, Any], code: str = "`") -> list[list[str]]:
    rows = []
    for i, k in enumerate(doc["culprits"], 1):
        if len(k["candidates"]) > 1:
            which = ("one of " + ", ".join(f"{code}{s[:12]}{code}" for s in k["candidates"]) +
                     " (the others could not be measured)")
        else:
            which = f"{code}{k['commit'][:12]}{code}"
        rows.append([str(i), which, k["subject"], k["author"],
                     f"{num(k['before_median'])} → {num(k['after_median'])}",
                     signed(k["change_pct"], "–"), f"[{num(k['ci_low'], 3)}, {num(k['ci_high'], 3)}]",
                     num(k["p_value"], 3)])
    return rows


CULPRIT_HEADER = ("#", "commit", "subject", "author", "median before → after", "change",
                  "95% CI of ratio", "p")


def _headline(doc: Mapping[str, Any]) -> str:
    m, t = doc["metric"], doc["threshold"]
    limit = (f"{t['pct_min']:g}%" if t["type"] == "pct" else
             f"{t['absolute_min']:g} {m['unit']}" if t["type"] == "absolute" else
             f"{t['pct_min']:g}% and {t['absolute_min']:g} {m['unit']}")
    way = "lower" if m["lower_is_better"] else "higher"
    return (f"good {doc['good']['commit'][:12]} ({doc['good']['ref']}) → bad "
            f"{doc['bad']['commit'][:12]} ({doc['bad']['ref']}): {doc['commits']} commits; "
            f"{m['name']} ({way} is better), a move of at least {limit}")


def _verdict_line(doc: Mapping[str, Any]) -> str:
    n = len(doc["culprits"])
    if doc["result"] == "found":
        return f"found {n} culprit{'s' if n != 1 else ''}"
    if doc["result"] == "inconclusive":
        return "inconclusive: no culprit found, and some steps stayed unclear at the run cap"
    overall = doc.get("overall")
    if overall and overall["state"] == "moved":
        return ("no change: no single commit moved the metric by the threshold (good → bad "
                f"changed {signed(overall['change_pct'], '–')} in smaller steps)")
    return "no change: the metric did not move by the threshold between good and bad"


def _cost_line(doc: Mapping[str, Any]) -> str:
    r = doc["runs"]
    reused = (f"; {r['reused_comparisons']} comparisons reused from the store"
              if r["reused_comparisons"] else "")
    return (f"cost: {r['measured']} measured runs (+{r['warmup']} warmups, {r['verify']} "
            f"verify runs) in {r['steps']} steps over {r['commits_measured']} of "
            f"{doc['commits']} commits{reused}; measuring every commit once would take "
            f"{r['every_commit']}")


def bisect_markdown(doc: Mapping[str, Any], *, epoch: int, plot: str | None) -> Artifact:
    meta = {"epoch": epoch, "result": doc["result"], "contract": doc["contract"],
            "bisection": doc["bisection"], "good": doc["good"]["commit"],
            "bad": doc["bad"]["commit"], "culprits": [k["commit"] for k in doc["culprits"]],
            "runs": doc["runs"]["measured"]}
    lines = [f"# Bisect: {doc['contract']} — {doc['result'].upper()}", "",
             _headline(doc), "", f"**{_verdict_line(doc)}**", ""]
    if doc["culprits"]:
        lines += ["## Culprits", "", markdown_table(CULPRIT_HEADER, _culprit_rows(doc)), ""]
        lines += [f"- {k['commit'][:12]}: " + "; ".join(k["reasons"]) for k in doc["culprits"]]
        lines.append("")
    if doc["unclear"]:
        lines += ["## Unclear (at the run cap)", ""]
        lines += [f"- between `{u['before']['commit'][:12]}` ({u['before']['position']}) and "
                  f"`{u['after']['commit'][:12]}` ({u['after']['position']}): "
                  + "; ".join(u["reasons"]) for u in doc["unclear"]]
        lines.append("")
    if doc["skipped"]:
        lines += ["## Skipped", "", markdown_table(
            ("position", "commit", "subject", "why"),
            [[str(s["position"]), f"`{s['commit'][:12]}`", s["subject"],
              s["reason"].replace("|", "/")] for s in doc["skipped"]]), ""]
    lines += ["## Commits measured", "", markdown_table(
        ("position", "commit", "subject", "n", "median", "95% CI of the median"),
        [[str(p["position"]), f"`{p['commit'][:12]}`", p["subject"], str(p["n"]),
          num(p["median"]), f"[{num(p['ci_low'])}, {num(p['ci_high'])}]"]
         for p in doc["points"]]), ""]
    lines += ["## Comparisons", "", markdown_table(
        ("step", "before", "after", "state", "change", "95% CI of ratio", "p", "n"),
        [[str(j["step"]) if j["step"] else "stored", f"`{j['before']['commit'][:8]}`",
          f"`{j['after']['commit'][:8]}`", j["state"], signed(j["change_pct"], "–"),
          f"[{num(j['ci_low'], 3)}, {num(j['ci_high'], 3)}]", num(j["p_value"], 3),
          f"{j['n_before']} vs {j['n_after']}"] for j in doc["comparisons"]]), ""]
    lines += [_cost_line(doc), ""]
    if plot:
        lines += [f"![{doc['metric']['name']} along the commits]({plot})", ""]
    return Artifact(meta, "\n".join(lines))


def bisect_text(doc: Mapping[str, Any]) -> str:
    """The terminal's view: the verdict, the culprits, the unclear, the skipped, the cost."""
    lines = [_verdict_line(doc), _headline(doc)]
    if doc["culprits"]:
        lines += ["", plain_table(CULPRIT_HEADER, _culprit_rows(doc, code=""))]
    lines += [f"unclear: {u['before']['commit'][:12]}..{u['after']['commit'][:12]}: "
              f"{u['reasons'][0] if u['reasons'] else ''}" for u in doc["unclear"]]
    lines += [f"skipped: {s['commit'][:12]} {s['subject']}: {s['reason']}"
              for s in doc["skipped"]]
    lines.append(_cost_line(doc))
    return "\n".join(lines)


# -- detect ---------------------------------------------------------------------------------

CHANGE_HEADER = ("#", "commit", "subject", "median before → after", "change", "p",
                 "regression", "unmeasured before it")


def _change_rows(doc: Mapping[str, Any], code: str = "`") -> list[list[str]]:
    return [[str(ch["number"]), f"{code}{ch['commit'][:12]}{code}", ch["subject"],
             f"{num(ch['before_median'])} → {num(ch['after_median'])}",
             signed(ch["change_pct"], "–"), num(ch["p_value"], 3),
             "YES" if ch["regression"] else "no",
             str(ch["unmeasured_between"])] for ch in doc["changes"]]


def _detect_headline(doc: Mapping[str, Any]) -> str:
    m, meth = doc["metric"], doc["method"]
    return (f"{doc['contract']} on {doc['ref']}: {len(doc['points'])} measured of the last "
            f"{doc['commits']} commits; {m['name']} ({'lower' if m['lower_is_better'] else 'higher'}"
            f" is better); {meth['name']}, {meth['test']} test ({meth['permutations']} "
            f"permutations) at alpha {meth['alpha']:g}")


def _detect_verdict(doc: Mapping[str, Any]) -> str:
    n, r = len(doc["changes"]), doc["regressions"]
    if not n:
        return "no change point"
    t = doc["threshold"]
    limit = f"{t['pct_min']:g}%" if t["type"] != "absolute" else f"{t['absolute_min']:g}"
    return (f"{n} change point{'s' if n != 1 else ''}, {r} of them a regression beyond the "
            f"threshold ({limit})")


def detect_text(doc: Mapping[str, Any]) -> str:
    lines = [_detect_verdict(doc), _detect_headline(doc)]
    if doc["changes"]:
        lines += ["", plain_table(CHANGE_HEADER, _change_rows(doc, code=""))]
        gaps = [ch["number"] for ch in doc["changes"] if ch["unmeasured_between"]]
        if gaps:
            lines.append(f"to find the commit inside a gap: perfgate bisect {doc['contract']} "
                         f"--from-change {gaps[0]}")
    lines += [f"could not measure {u['commit'][:12]}: {u['reason']}"
              for u in doc.get("unmeasurable", [])]
    return "\n".join(lines)


def detect_markdown(doc: Mapping[str, Any], *, epoch: int) -> Artifact:
    result = "regression" if doc["regressions"] else ("change" if doc["changes"] else "none")
    meta = {"epoch": epoch, "result": result, "contract": doc["contract"], "ref": doc["ref"],
            "changes": [ch["commit"] for ch in doc["changes"]],
            "regressions": doc["regressions"]}
    lines = [f"# Detect: {doc['contract']} — {result.upper()}", "", _detect_headline(doc), "",
             f"**{_detect_verdict(doc)}**", ""]
    if doc["changes"]:
        lines += [markdown_table(CHANGE_HEADER, _change_rows(doc)), ""]
    lines += ["## Points", "", markdown_table(
        ("position", "commit", "subject", "n", "median"),
        [[str(p["position"]), f"`{p['commit'][:12]}`", p["subject"], str(p["n"]),
          num(p["median"])] for p in doc["points"]]), ""]
    return Artifact(meta, "\n".join(lines))
