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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
