"""Noisy machines: what adaptive rounds and instruction counts buy, measured here.

Run: python bench/noisy_bench.py [aa|power|counts|all] [GATES]      (default: all, 40 gates)

aa      A/A gates (a commit against itself) with adaptive rounds on: N = 5 per side first,
        then rounds of 5 up to 20, alpha 0.05 split over the looks, threshold only 3% so the
        threshold hardly protects and the test's own error rate shows. Every accept is false.
        From the same stored samples it also recomputes what naive peeking (alpha 0.05 at every
        look, no split) would have accepted: a lower bound, as the naive gate would have gone on
        where the corrected one stopped.
power   A true 1.2x speed-up (wall time 16.7% lower), threshold 10%: fixed N = 5 against
        adaptive rounds (5 up to 20), gate by gate alternately so both see the same machine.
counts  The demo repro, N = 10 runs, as the machine is and then with a busy loop on every
        core: the spread of wall_time vs instructions (valgrind or perf), and the smallest
        change each can detect at N = 5 (80% power, alpha 0.05). A last row counts with
        PYTHONHASHSEED=random: what pinning the hash seed in the counted pass buys.

Every gate is a real `perfgate compare --yes --json` in a scratch git repository.
"""
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import BURN, PY, git, machine, perfgate  # noqa: E402

CONTRACT = """\
version: 1
name: bench
domain: cli_startup
repro: {{script: {py} burn.py, warmup_runs: 1, measurement_runs: 5, max_measurement_runs: 20,
        timeout_s: 60}}
metrics:
  primary: {{name: wall_time, unit: s}}
threshold: {{type: pct, pct_min: {pct}}}
significance: {{test: mann_whitney, alpha: 0.05}}
"""


def median_wall(root: Path, n: int) -> float:
    r = perfgate("measure", "--runs", "7", "--json", "--", f"{PY} burn.py {n}", cwd=root)
    return statistics.median(x["wall_time"] for x in json.loads(r.stdout)["runs"])


def scratch(root: Path, pct: float, speedup: float) -> tuple[str, str, float]:
    """Commit A (the burn) and commit B, `speedup` times faster in wall time (probed here)."""
    git(root, "init", "-q", "-b", "main")
    (root / "burn.py").write_text(BURN)
    n_base = 700_000
    t0, t_base = median_wall(root, 0), median_wall(root, n_base)
    n_fast = int((t_base / speedup - t0) / ((t_base - t0) / n_base))
    (root / "contracts").mkdir()
    (root / "contracts" / "bench.yaml").write_text(CONTRACT.format(py=PY, pct=pct))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "A")
    a = git(root, "rev-parse", "HEAD")
    (root / "burn.py").write_text(BURN.replace("else 700000", f"else {n_fast}"))
    git(root, "commit", "-qam", f"B: {speedup}x faster", "--allow-empty")
    return a, git(root, "rev-parse", "HEAD"), t_base


def gate(root: Path, base: str, head: str, *flags: str) -> dict:
    r = perfgate("compare", "bench", "--base", base, "--head", head, "--yes", "--json", *flags,
                 cwd=root, check=False)
    if r.returncode not in (0, 1, 4):
        raise SystemExit(r.stderr)
    return json.loads(r.stdout)


def naive_accepts(root: Path, docs: list[dict], pct: float, first: int = 5) -> int:
    """Gates that alpha 0.05 at every look (no split) would have accepted, on the same data."""
    from perfgate import stats
    from perfgate.store import Store

    store = Store(root / ".perfgate" / "perfgate.duckdb")
    hits = 0
    for d in docs:
        b = store.samples(d["base"]["session"], "wall_time")
        c = store.samples(d["candidate"]["session"], "wall_time")
        for n in range(first, len(b) + 1, first):
            gain = 100 * (1 - statistics.median(c[:n]) / statistics.median(b[:n]))
            if gain >= pct and stats.mann_whitney(b[:n], c[:n], lower_is_better=True).p_value < 0.05:
                hits += 1
                break
    return hits


def aa(k: int) -> None:
    pct = 3
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        a, _, t_base = scratch(root, pct, 1.0)
        t = time.perf_counter()
        docs = [gate(root, a, a, "--adaptive") for _ in range(k)]
        took = time.perf_counter() - t
        naive = naive_accepts(root, docs, pct)
    fa = sum(d["verdict"] == "accepted" for d in docs)
    inc = sum(d["verdict"] == "inconclusive" for d in docs)
    runs = statistics.fmean(d["sequential"]["runs_per_side"] for d in docs)
    print(f"### A/A with adaptive rounds\n\nmachine: {machine()}; program {t_base * 1000:.0f} ms;"
          f" {k} gates in {took:.0f} s; threshold {pct}%, N 5 then rounds of 5 up to 20\n")
    print("| | result | target |\n|---|---|---|")
    print(f"| false accepts, alpha split over the looks | {fa}/{k} = {fa / k:.1%} | ≤ 5% |")
    print(f"| naive peeking on the same samples (lower bound) | {naive}/{k} = {naive / k:.1%} "
          "| (what the split prevents) |")
    print(f"| inconclusive at the cap | {inc}/{k} | |")
    print(f"| runs per side, mean | {runs:.1f} | |\n")


def power(k: int) -> None:
    pct = 10
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        a, b, t_base = scratch(root, pct, 1.2)
        t = time.perf_counter()
        fixed, adaptive = [], []
        for _ in range(k):   # alternate, so both modes see the same stretch of machine weather
            fixed.append(gate(root, a, b, "--no-adaptive"))
            adaptive.append(gate(root, a, b, "--adaptive"))
        took = time.perf_counter() - t
    print(f"### Power at a true 1.2x speed-up\n\nmachine: {machine()}; program "
          f"{t_base * 1000:.0f} ms; {2 * k} gates in {took:.0f} s; threshold {pct}%\n")
    print("| mode | accepted | inconclusive | rejected | runs per side, mean | median gain |")
    print("|---|---|---|---|---|---|")
    for name, docs in (("fixed N = 5", fixed), ("adaptive, 5 up to 20", adaptive)):
        n = {v: sum(d["verdict"] == v for d in docs) for v in ("accepted", "inconclusive",
                                                                 "rejected")}
        runs = statistics.fmean(d["sequential"]["runs_per_side"] for d in docs)
        gain = statistics.median(d["primary"]["change_pct"] for d in docs)
        print(f"| {name} | {n['accepted']}/{k} = {n['accepted'] / k:.0%} | {n['inconclusive']}"
              f" | {n['rejected']} | {runs:.1f} | {gain:.1f}% |")
    print()


def counts(n: int = 10) -> None:
    """Quiet, then with a CPU burner per core running beside it: the neighbours' effect."""
    import os
    import subprocess

    from perfgate import counters, power

    demo = Path(__file__).resolve().parent.parent / "examples" / "demo" / "slow.py"
    rows, took = [], 0.0
    cases = [("no added load", False, {}), ("a busy loop on every core", True, {}),
             ("no added load, hash seed not pinned", False, {"PYTHONHASHSEED": "random"})]
    for label, burn, env in cases:
        burners = [subprocess.Popen([PY, "-c", "while True: pass"])
                   for _ in range(os.cpu_count() or 1)] if burn else []
        try:
            t = time.perf_counter()
            r = subprocess.run([PY, "-m", "perfgate", "measure", "--runs", str(n), "--warmup",
                                "1", "--instructions", "--json", "--", f"{PY} {demo}"],
                               capture_output=True, text=True, check=True,
                               env={**os.environ, **env})
            took += time.perf_counter() - t
        finally:
            for b in burners:
                b.kill()
                b.wait()
        runs = json.loads(r.stdout)["runs"]
        series = [("wall_time", [x["wall_time"] for x in runs])] if not env else []
        for name, xs in series + [("instructions", [x["metrics"]["instructions"] for x in runs])]:
            cv = statistics.stdev(xs) / statistics.fmean(xs)
            mde = power.min_detectable_effect_pct(cv, 5, 0.05)
            rows.append(f"| {label} | {name} | {statistics.median(xs):.4g} | {100 * cv:.2g}% | "
                        + (f"{mde:.2g}%" if mde >= 0.001 else "< 0.001%") + " |")
        if label == "no added load":
            wall = statistics.median(x["wall_time"] for x in runs)
            quiet_took = took
    print(f"### wall_time vs instructions on the demo repro\n\nmachine: {machine()}; "
          f"`python examples/demo/slow.py`, N = {n} (+1 warmup) per row pair; counter: "
          f"{counters.tool().name}; {took:.0f} s in all\n")
    print("| machine | metric | median | CV | smallest change detectable at N = 5 |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    # The warmup is timed but not counted; charge its small cost to the counted runs.
    print(f"\nCost: a run with its counted pass took about "
          f"{quiet_took / n / wall:.0f}x the timed run alone (no added load).\n")


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    if what in ("aa", "all"):
        aa(k)
    if what in ("power", "all"):
        power(max(1, k // 2))
    if what in ("counts", "all"):
        counts()


if __name__ == "__main__":
    main()
