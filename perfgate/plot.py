"""PNG plots of samples (matplotlib, imported only when a plot is drawn)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def samples(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: Path, *,
            title: str) -> Path:
    """A strip plot per metric: baseline and candidate runs side by side, medians marked."""
    import matplotlib

    matplotlib.use("Agg")
    import statistics

    import matplotlib.pyplot as plt

    names = [n for n, (a, b) in series.items() if a or b]
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(3.2 * max(1, len(names)), 3.4),
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        base, cand = series[name]
        for x, values, color in ((0, base, "tab:blue"), (1, cand, "tab:orange")):
            if not values:
                continue
            jitter = [x + (i % 5 - 2) * 0.04 for i in range(len(values))]
            ax.scatter(jitter, values, s=18, color=color, alpha=0.8)
            med = statistics.median(values)
            ax.hlines(med, x - 0.25, x + 0.25, color=color, linewidth=2)
        ax.set_xticks([0, 1], ["baseline", "candidate"])
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(name, fontsize=10)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def history(series: Sequence[dict], path: Path, *, title: str, unit: str) -> Path:
    """Median per session over time with its interquartile range and min–max whiskers;
    sessions whose candidate was accepted are marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    xs = list(range(len(series)))
    med = [s["median"] for s in series]
    ax.fill_between(xs, [s["q1"] for s in series], [s["q3"] for s in series], alpha=0.25,
                    color="tab:blue", label="interquartile range")
    ax.vlines(xs, [s["lo"] for s in series], [s["hi"] for s in series], color="tab:blue",
              alpha=0.4, linewidth=1)
    ax.plot(xs, med, marker="o", color="tab:blue", label="median")
    acc = [i for i, s in enumerate(series) if s.get("accepted")]
    if acc:
        ax.scatter(acc, [med[i] for i in acc], s=120, facecolors="none", edgecolors="tab:green",
                   linewidths=2, label="accepted", zorder=3)
    step = max(1, len(series) // 20)  # 20 labels at most: a long history stays readable
    ax.set_xticks(xs[::step], [f"{(s['commit_sha'] or '')[:7]}\n{s['role'][0]}"
                               for s in series[::step]], fontsize=7)
    every = series[0].get("step") or 1
    if every > 1:
        ax.set_xlabel(f"every {every}th of {series[0]['total']} sessions, and every accepted "
                      "one", fontsize=8)
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def along_commits(doc: dict, path: Path, *, title: str) -> Path:
    """A bisection's metric along good..bad: each measured commit's median with its 95% CI,
    culprits marked by a line before them, skipped commits by an x on the axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = doc["points"]
    metric = doc["metric"]
    fig, ax = plt.subplots(figsize=(9, 4))
    xs = [p["position"] for p in pts]
    med = [p["median"] for p in pts]
    lo = [p["median"] - (p["ci_low"] if p["ci_low"] is not None else p["median"]) for p in pts]
    hi = [(p["ci_high"] if p["ci_high"] is not None else p["median"]) - p["median"] for p in pts]
    ax.errorbar(xs, med, yerr=[lo, hi], fmt="o", color="tab:blue", capsize=3,
                label="median, 95% CI")
    for i, k in enumerate(doc["culprits"]):
        x = k["position"] - 0.5 if len(k["candidates"]) == 1 else k["before"]["position"] + 0.5
        ax.axvline(x, color="tab:red", linestyle="--", linewidth=1.5,
                   label="culprit" if i == 0 else None)
        ax.annotate(k["commit"][:8], (x, max(med)), fontsize=8, color="tab:red", rotation=90,
                    va="top", ha="right")
    skipped = [s["position"] for s in doc["skipped"]]
    if skipped and med:
        ax.scatter(skipped, [min(med)] * len(skipped), marker="x", color="tab:gray",
                   label="skipped")
    ax.set_xlim(-1, doc["commits"])
    ax.set_xlabel(f"commit ({doc['good']['commit'][:8]} = 0 … {doc['bad']['commit'][:8]} = "
                  f"{doc['commits'] - 1})")
    ax.set_ylabel(f"{metric['name']} ({metric['unit']})" if metric["unit"] else metric["name"])
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def ratios(verdict, path: Path, *, title: str) -> Path:
    """A suite's gate: every benchmark's median ratio candidate/baseline with its 95% CI
    (a forest plot), the geometric mean at the bottom; left of 1 is faster when lower is
    better. Colours say what the gate concluded for each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"improved": "tab:green", "regressed": "tab:red", "slower": "tab:orange",
              "undecided": "tab:purple", "unchanged": "tab:gray"}
    rows = [(b.name, b.candidate_median / b.baseline_median
             if b.baseline_median and b.candidate_median is not None else None,
             b.ci_low, b.ci_high, colors.get(b.status, "tab:gray")) for b in verdict.benchmarks]
    g = (verdict.suite or {}).get("geomean")
    if g and g.get("ratio") is not None:
        rows.append(("geometric mean", g["ratio"], g["ci_low"], g["ci_high"], "black"))
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.28 * len(rows)))
    ys = list(range(len(rows)))[::-1]
    for y, (_, ratio, lo, hi, color) in zip(ys, rows):
        if ratio is None:
            continue
        if lo is not None and hi is not None:
            ax.hlines(y, lo, hi, color=color, linewidth=2)
        ax.plot([ratio], [y], "o", color=color, markersize=5)
    ax.axvline(1.0, color="black", linewidth=0.8, linestyle=":")
    ax.set_yticks(ys, [r[0][:48] for r in rows], fontsize=7)
    ax.set_xlabel("median ratio candidate / baseline (95% CI)")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Lay out, write (its folder made), and free the figure: pyplot keeps every open one."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
