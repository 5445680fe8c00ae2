"""Change-point detection on 200-point histories: found where it is, and no false changes?

    python bench/detect_bench.py [TRIALS]

Each trial draws a 200-point history, one point per commit, at CV 3% (normal noise around
1.0): a step history has one 10% slowdown at a random commit in 20..180, a flat one none.
The detector is perfgate's (`changepoints.e_divisive`: E-Divisive means, 199 permutations,
alpha 0.01, exactly what `perfgate detect` runs on the per-commit medians). A step counts as
found when a change point lies within 2 commits of it; a flat history with any change point
is a false change. If Apache Otava is importable (`pip download --no-deps apache-otava`,
unzip, put it on PYTHONPATH), its default detector (`compute_change_points`: windows of 50,
Student's t merge at p 0.001) runs on the same series for comparison.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine  # noqa: E402

POINTS, STEP, CV, NEAR = 200, 1.10, 0.03, 2


def main() -> None:
    import numpy as np

    from perfgate.changepoints import ALPHA, PERMUTATIONS, e_divisive

    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    try:
        from otava.analysis import compute_change_points
    except ImportError:
        compute_change_points = None
    rng = np.random.default_rng(20260101)
    print(f"machine: {machine()}")
    print(f"{POINTS} points per history, CV {CV:.0%}, one {STEP - 1:.0%} step (or none); "
          f"E-Divisive means, {PERMUTATIONS} permutations, alpha {ALPHA}; {trials} step + "
          f"{trials} flat histories", flush=True)
    tally = {"perfgate": [0, 0, 0, 0.0], "otava default": [0, 0, 0, 0.0]}  # found, extra, flat
    t0 = time.monotonic()
    for i in range(trials):
        at = int(rng.integers(20, POINTS - 20))
        step = rng.normal(1, CV, POINTS)
        step[at:] *= STEP
        flat = rng.normal(1, CV, POINTS)
        detectors = [("perfgate", lambda s, k=i: [c.index for c in e_divisive(s, seed=k)])]
        if compute_change_points is not None:
            detectors.append(("otava default",
                              lambda s: [c.index for c in compute_change_points(list(s))[0]]))
        for name, run in detectors:
            t = time.monotonic()
            found = run(step)
            near = [x for x in found if abs(x - at) <= NEAR]
            tally[name][0] += bool(near)
            tally[name][1] += len(found) - min(len(near), 1)
            tally[name][2] += bool(run(flat))
            tally[name][3] += time.monotonic() - t
        if (i + 1) % 10 == 0:
            print(f"  {i + 1} trials, {time.monotonic() - t0:.0f} s: perfgate "
                  f"{tally['perfgate'][0]} found, {tally['perfgate'][2]} flat with a change",
                  flush=True)
    print(f"\n{trials} + {trials} histories in {time.monotonic() - t0:.0f} s")
    print("| detector | step found within ±2 commits | other change points in step "
          "histories | flat histories with a change | seconds per history |")
    print("|---|---|---|---|---|")
    for name, (found, extra, false, secs) in tally.items():
        if name != "perfgate" and compute_change_points is None:
            continue
        print(f"| {name} | {found}/{trials} = {found / trials:.0%} | {extra} | "
              f"{false}/{trials} = {false / trials:.0%} | {secs / (2 * trials):.2f} |")


if __name__ == "__main__":
    main()
