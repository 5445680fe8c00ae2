"""CI mode's error rates, both ways: false alarms on A/A changes, misses on true regressions.

Run: python bench/ci_bench.py [GATES] [TESTS]   (default 40 gates per condition; TESTS a comma
     list of significance tests, default mann_whitney; with mann_whitney,wilcoxon every
     condition is gated with both, one after the other, by two contracts that differ in the
     test alone)

A scratch repository holds a CPU-bound program (bench/_common.py's burn, about 60 ms) and
three pull-request heads: a comment-only change (A/A), and the program made 15% and 20%
slower in wall time (1.5x and 2x the threshold; iteration counts probed on this machine).
Every gate is a real `perfgate compare --mode no-regression --yes --json` with `$CI` set, as
a CI job runs it: threshold 10%, first look at 5 runs per side, the cap at 30. The three
conditions take turns gate by gate, so all of them see the same stretch of machine weather.

"today's rule" is the rule before the change, recomputed from the same stored samples: the
first 5 runs per side (what a fixed-N CI gate measured), pass when the median got less than
10% worse, fail when 10% or more and p < 0.05, inconclusive otherwise.

Targets (issue 18): A/A fails in <= 5%; the 15% slowdown passes in <= 5%; the 20% slowdown
passes in <= 1%; on A/A the median runs per side at most 1.5x today's (5).
"""
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import BURN, PY, git, machine, perfgate  # noqa: E402

PCT = 10
FIRST = 5
CONTRACT = f"""\
version: 1
name: NAME
domain: cli_startup
repro: {{script: {PY} burn.py, warmup_runs: 1, measurement_runs: {FIRST}, timeout_s: 60}}
metrics:
  primary: {{name: wall_time, unit: s}}
threshold: {{type: pct, pct_min: {PCT}}}
significance: {{test: TEST, alpha: 0.05}}
"""
N_BASE = 250_000
CONDITIONS = (("A/A (comment only)", 1.0), ("15% slower", 1.15), ("20% slower", 1.20))
TARGET = {1.0: "fail ≤ 5%", 1.15: "pass ≤ 5%", 1.20: "pass ≤ 1%"}


def median_wall(root: Path, n: int) -> float:
    r = perfgate("measure", "--runs", "9", "--json", "--", f"{PY} burn.py {n}", cwd=root)
    return statistics.median(x["wall_time"] for x in json.loads(r.stdout)["runs"])


def scratch(root: Path) -> tuple[str, dict[float, str], float]:
    """The base commit, and a head per condition: `factor` times the base's wall time."""
    git(root, "init", "-q", "-b", "main")
    (root / "burn.py").write_text(BURN.replace("else 700000", f"else {N_BASE}"))
    (root / "contracts").mkdir()
    for test in TESTS:
        (root / "contracts" / f"{NAMES[test]}.yaml").write_text(
            CONTRACT.replace("NAME", NAMES[test]).replace("TEST", test))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    base = git(root, "rev-parse", "HEAD")
    t0, t_base = median_wall(root, 0), median_wall(root, N_BASE)
    per_iteration = (t_base - t0) / N_BASE
    heads = {}
    for _, factor in CONDITIONS:
        git(root, "checkout", "-q", base)
        if factor == 1.0:
            (root / "burn.py").write_text("# a comment\n" + (root / "burn.py").read_text())
        else:
            n = int((t_base * factor - t0) / per_iteration)
            (root / "burn.py").write_text(BURN.replace("else 700000", f"else {n}"))
        git(root, "commit", "-qam", f"head x{factor}")
        heads[factor] = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", base)
    return base, heads, t_base


def gate(root: Path, base: str, head: str, name: str = "ci") -> dict:
    env = {**os.environ, "CI": "true"}
    import subprocess

    r = subprocess.run([PY, "-m", "perfgate", "compare", name, "--base", base, "--head", head,
                        "--mode", "no-regression", "--yes", "--json"], cwd=root, env=env,
                       capture_output=True, text=True)
    if r.returncode not in (0, 1, 4):
        raise SystemExit(r.stderr)
    doc = json.loads(r.stdout)
    doc["exit"] = r.returncode
    return doc


def todays_rule(store, doc: dict) -> str:
    """The rule before issue 18, on the first FIRST runs per side of this gate's samples."""
    from perfgate import stats

    b = store.samples(doc["base"]["session"], "wall_time")[:FIRST]
    c = store.samples(doc["candidate"]["session"], "wall_time")[:FIRST]
    worse = 100 * (statistics.median(c) / statistics.median(b) - 1)
    if worse < PCT:
        return "pass"
    p = stats.mann_whitney(b, c, lower_is_better=False).p_value
    return "fail" if p < 0.05 else "inconclusive"


def main(k: int) -> None:
    from perfgate.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base, heads, t_base = scratch(root)
        every = {test: {f: [] for _, f in CONDITIONS} for test in TESTS}
        t = time.perf_counter()
        for i in range(k):
            for _, factor in CONDITIONS:
                for test in TESTS:
                    every[test][factor].append(gate(root, base, heads[factor], NAMES[test]))
            print(f"gate round {i + 1}/{k}", file=sys.stderr, flush=True)
        took = time.perf_counter() - t
        store = Store(root / ".perfgate" / "perfgate.duckdb")
        docs = every[TESTS[0]]
        today = {f: [todays_rule(store, d) for d in ds] for f, ds in docs.items()}
        # The machine's noise in this run: the robust CV of each gate's base side, median.
        from perfgate import stats

        cv = statistics.median(stats.robust_cv(store.samples(d["base"]["session"], "wall_time"))
                               for ds in docs.values() for d in ds)

    print(f"### CI mode (`--mode no-regression`), threshold {PCT}%\n")
    print(f"machine: {machine()}; program {t_base * 1000:.0f} ms; {k} gates per condition, "
          f"{3 * k * len(TESTS)} in {took:.0f} s; `$CI` set; first look {FIRST} runs per side, cap 30; the "
          f"runs' robust CV within a side, median over gates: {100 * cv:.1f}%\n")
    print("| condition | rule | pass | fail (exit 1) | inconclusive (exit 4) | runs per side, "
          "median (max) | target |")
    print("|---|---|---|---|---|---|---|")
    for name, factor in CONDITIONS:
        for test in TESTS:
            ds = every[test][factor]
            n = {v: sum(d["exit"] == code for d in ds) for v, code in
                 (("pass", 0), ("fail", 1), ("inconclusive", 4))}
            runs = [d["sequential"]["runs_per_side"] for d in ds]
            print(f"| {name} | rules out a {PCT}% regression ({test}) | {n['pass']}/{k} | "
                  f"{n['fail']}/{k} | {n['inconclusive']}/{k} | {statistics.median(runs):g} "
                  f"({max(runs)}) | {TARGET[factor]} |")
        o = {v: today[factor].count(v) for v in ("pass", "fail", "inconclusive")}
        print(f"| {name} | today's: median < {PCT}% worse | {o['pass']}/{k} | {o['fail']}/{k} | "
              f"{o['inconclusive']}/{k} | {FIRST} ({FIRST}) | |")
    print()


TESTS = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("mann_whitney",)
NAMES = {test: "ci" if i == 0 else f"ci-{test}" for i, test in enumerate(TESTS)}

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
