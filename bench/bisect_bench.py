"""Bisection over 64 commits: does `perfgate bisect` name the right commit(s), and at what cost?

    python bench/bisect_bench.py one [TRIALS] [METRIC] [TEST]  # one 1.3x step (slower)
    python bench/bisect_bench.py two [TRIALS] [METRIC] [TEST]  # 1.5x slower, later 1.25x faster

METRIC is the contract's primary, cpu_time (default) or wall_time: on a shared 2-core machine
at load 8 wall time varies 20-30% run to run, CPU time about 9%. TEST is bisect's
--test: wilcoxon (runs paired by round; bisect's default, and this script's) or
mann_whitney (each side pooled, as bisect judged before).

Each trial builds a fresh 64-commit repository (tests/history.py: a sleep-free CPU loop sized
by size.txt) whose wall time steps at known commits; the sizes are probed on this machine
first so the steps are the stated ratios of wall time, Python's start-up included. Then, on
the same repository:

* `perfgate bisect` for real (N = 5 per side, rounds up to 20, 1 warmup, threshold 15%),
* asv find's search (asv/commands/find.py, `do_search`: measure lo, mid and hi once each, go
  to the half with the larger difference; no statistics, one answer), with the same N runs
  per commit through perfgate's harness, median as its value,
* and the cost of measuring every commit once with N runs (64 x 5 = 320; not run).
"""
from __future__ import annotations

import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import PY, machine, perfgate  # noqa: E402
from tests import history  # noqa: E402

COMMITS, N, CAP, PCT = 64, 5, 20, 15
METRIC = sys.argv[3] if len(sys.argv) > 3 else "cpu_time"
TEST = sys.argv[4] if len(sys.argv) > 4 else "wilcoxon"


def probe() -> tuple[float, float]:
    """(start-up seconds, seconds per unit of size) of work.py on this machine, right now."""
    from perfgate import harness

    d = Path(tempfile.mkdtemp())
    (d / "work.py").write_text(history.WORK)

    def t(size: int) -> float:
        (d / "size.txt").write_text(str(size))
        return statistics.median(getattr(harness.run_once(f"{PY} work.py", cwd=d), METRIC)
                                 for _ in range(9))

    a, b = t(50_000), t(450_000)
    per = (b - a) / 400_000
    return a - 50_000 * per, per


def size_for(ratio: float, base: int, start: float, per: float) -> int:
    """The size whose wall time is `ratio` times that of `base`."""
    return int(((start + per * base) * ratio - start) / per)


def asv_find(repo: Path, shas: list[str]) -> tuple[int, int]:
    """asv's do_search over the commits (lo = 0, hi = last): (index found, runs spent)."""
    from perfgate import harness, vcs

    cache: dict[int, float] = {}

    def value(i: int) -> float:
        if i not in cache:
            wt = vcs.ensure_worktree(repo, repo / ".asv-find" / str(i), shas[i])
            runs = [getattr(harness.run_once(f"{PY} work.py", cwd=wt), METRIC)
                    for _ in range(N + 1)]
            cache[i] = statistics.median(runs[1:])       # the first is a warmup, as ours
        return cache[i]

    lo, hi = 0, len(shas) - 1
    while hi - lo > 1:
        mid = (hi - lo) // 2 + lo
        a, b, c = value(hi), value(mid), value(lo)
        denom = abs(a) + abs(b) + abs(c) or 1.0
        diff_b, diff_a = (a - b) / denom, (b - c) / denom   # regression = the value went up
        lo, hi = (lo, mid) if diff_a >= diff_b else (mid, hi)
    return hi, len(cache) * N


def trial(kind: str, rng: random.Random, start: float, per: float) -> dict:
    base = 100_000
    if kind == "one":
        at = [rng.randint(8, COMMITS - 8)]
        sizes = [base if i < at[0] else size_for(1.3, base, start, per) for i in range(COMMITS)]
    else:
        at = [rng.randint(8, 28), rng.randint(36, COMMITS - 8)]
        slow = size_for(1.5, base, start, per)
        fixed = size_for(1.5 / 1.25, base, start, per)
        sizes = [base if i < at[0] else slow if i < at[1] else fixed for i in range(COMMITS)]
    sizes = [s + i for i, s in enumerate(sizes)]      # every commit its own tree
    repo = Path(tempfile.mkdtemp()) / "repo"
    shas = history.make(repo, sizes, runs=N, max_runs=CAP, warmup=1, pct=PCT, verify=False,
                        metric=METRIC, test=TEST)
    t0 = time.monotonic()
    r = perfgate("bisect", "h", "--good", shas[0], "--bad", shas[-1], "--test", TEST, "--yes",
                 "--json", cwd=repo, check=False)
    took = time.monotonic() - t0
    import json

    doc = json.loads(r.stdout) if r.stdout.strip() else {"culprits": [], "runs": {}}
    found = [k["position"] for k in doc["culprits"]]
    out = {"at": at, "found": found, "exit": r.returncode, "runs": doc["runs"].get("measured"),
           "warmups": doc["runs"].get("warmup"), "seconds": took,
           "result": doc.get("result", r.stderr.strip()[-200:])}
    t0 = time.monotonic()
    asv_at, asv_runs = asv_find(repo, shas)
    out.update(asv_found=asv_at, asv_runs=asv_runs, asv_seconds=time.monotonic() - t0)
    shutil.rmtree(repo.parent, ignore_errors=True)
    return out


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "one"
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rng = random.Random(20260101)
    start, per = probe()
    print(f"machine: {machine()}")
    print(f"{COMMITS} commits, primary {METRIC}, test {TEST}, N = {N} per side (rounds up to {CAP}), 1 "
          f"warmup, threshold {PCT}%; work.py start-up {start * 1000:.0f} ms, "
          f"{per * 1e9:.0f} ns per unit; "
          f"{trials} trials", flush=True)
    rows = []
    t0 = time.monotonic()
    for i in range(trials):
        row = trial(kind, rng, start, per)
        rows.append(row)
        print(f"  trial {i + 1}: steps at {row['at']}, perfgate found {row['found']} "
              f"({row['result']}, {row['runs']} runs, {row['seconds']:.0f} s); asv find's "
              f"search {row['asv_found']} ({row['asv_runs']} runs)", flush=True)
    ok = sum(r["found"] == r["at"] for r in rows)
    asv_ok = sum(r["asv_found"] == r["at"][0] for r in rows)
    runs = [r["runs"] for r in rows if r["runs"] is not None]
    asv_runs = [r["asv_runs"] for r in rows]
    wrong = sum(1 for r in rows if set(r["found"]) - set(r["at"]))   # named a non-step
    print(f"\n{len(rows)} trials in {time.monotonic() - t0:.0f} s")
    some = sum(1 for r in rows if r["found"] and set(r["found"]) <= set(r["at"])
               and r["found"] != r["at"])
    if kind == "two":
        print(f"perfgate named only some of the steps (and nothing else) in {some} trials")
    print("| method | all steps found exactly | a wrong commit named | measured runs, mean "
          "(min–max) | vs every commit |")
    print("|---|---|---|---|---|")
    every = COMMITS * N
    print(f"| perfgate bisect | {ok}/{len(rows)} | {wrong}/{len(rows)} | "
          f"{statistics.fmean(runs):.0f} ({min(runs)}–{max(runs)}) | "
          f"{statistics.fmean(runs) / every:.2f}x |")
    what = "the step" if kind == "one" else "the first step only (it names one commit)"
    asv_wrong = sum(1 for r in rows if r["asv_found"] not in r["at"])
    print(f"| asv find's search | {asv_ok}/{len(rows)} ({what}) | "
          f"{asv_wrong}/{len(rows)} | {statistics.fmean(asv_runs):.0f} "
          f"({min(asv_runs)}–{max(asv_runs)}) | {statistics.fmean(asv_runs) / every:.2f}x |")
    print(f"| every commit once | – | – | {every} | 1.00x |")
    inconclusive = sum(r["exit"] == 4 for r in rows)
    print(f"\nperfgate exit codes: 0 x{sum(r['exit'] == 0 for r in rows)}, 4 (inconclusive) "
          f"x{inconclusive}, other x{sum(r['exit'] not in (0, 4) for r in rows)}; "
          f"log2({COMMITS}) = {math.log2(COMMITS):.0f}")


if __name__ == "__main__":
    main()
