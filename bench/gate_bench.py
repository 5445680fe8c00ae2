"""The gate's error rates on this machine: A/A false accepts and power at a true 1.5x speedup.

Run: python bench/gate_bench.py [AA_GATES] [POWER_GATES]   (defaults 40 and 20)

A scratch git repository holds a CPU-bound program (commit A) and a version whose wall time is
1.5x shorter (commit B, calibrated here). Each gate is a real `perfgate compare --yes --json`:
N = 5 runs per side (fixed: adaptive rounds are measured by noisy_bench.py) plus one warmup
each, interleaved (ABBA), one-sided Mann-Whitney at
alpha 0.05, threshold 20%. A/A gates compare A with itself, so every accept is a false accept;
the share of A/A gates whose p-value alone was below alpha is reported too, since the threshold
hides how often the test by itself fires.
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
repro: {{script: {py} burn.py, warmup_runs: 1, measurement_runs: 5, timeout_s: 60}}
metrics:
  primary: {{name: wall_time, unit: s}}
  watchdogs: [{{name: peak_rss, unit: MiB, max_regression_pct: 10}}]
threshold: {{type: pct, pct_min: 20}}
significance: {{test: mann_whitney, alpha: 0.05}}
"""


def median_wall(root: Path, n: int) -> float:
    r = perfgate("measure", "--runs", "7", "--json", "--", f"{PY} burn.py {n}", cwd=root)
    return statistics.median(x["wall_time"] for x in json.loads(r.stdout)["runs"])


def setup(root: Path) -> tuple[str, str, float]:
    git(root, "init", "-q", "-b", "main")
    (root / "burn.py").write_text(BURN)
    n_base = 700_000
    t0, t_base = median_wall(root, 0), median_wall(root, n_base)
    per_iter = (t_base - t0) / n_base
    n_fast = int((t_base / 1.5 - t0) / per_iter)
    (root / "contracts").mkdir()
    (root / "contracts" / "bench.yaml").write_text(CONTRACT.format(py=PY))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "A")
    a = git(root, "rev-parse", "HEAD")
    # The contract (and so the command) stays; the program itself gets faster.
    (root / "burn.py").write_text(BURN.replace("else 700000", f"else {n_fast}"))
    git(root, "commit", "-qam", "B: 1.5x faster")
    return a, git(root, "rev-parse", "HEAD"), t_base


def gates(root: Path, base: str, head: str, k: int) -> list[dict]:
    docs = []
    for _ in range(k):
        r = perfgate("compare", "bench", "--base", base, "--head", head, "--yes", "--json",
                     "--no-adaptive", cwd=root, check=False)
        if r.returncode not in (0, 1, 4):   # 4: inconclusive, a verdict too
            raise SystemExit(r.stderr)
        docs.append(json.loads(r.stdout))
    return docs


def main() -> None:
    aa_k = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    pw_k = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        a, b, t_base = setup(root)
        t = time.perf_counter()
        aa = gates(root, a, a, aa_k)
        pw = gates(root, a, b, pw_k)
        took = time.perf_counter() - t
    fa = sum(d["verdict"] == "accepted" for d in aa)
    sig = sum((d["primary"]["p_value"] or 1) < 0.05 for d in aa)
    acc = sum(d["verdict"] == "accepted" for d in pw)
    speed = statistics.median(d["primary"]["change_pct"] for d in pw)
    print(f"machine: {machine()}; program {t_base * 1000:.0f} ms; N = 5 per side, interleaved; "
          f"{aa_k + pw_k} gates in {took:.0f} s\n")
    print("| gate | runs | result | target |\n|---|---|---|---|")
    print(f"| A/A (no change), false accepts | {aa_k} gates | {fa}/{aa_k} = {fa / aa_k:.1%} "
          f"| ≤ 5% |")
    print(f"| A/A, p < 0.05 from the test alone | {aa_k} gates | {sig}/{aa_k} = {sig / aa_k:.1%} "
          f"| ≈ 5% or less |")
    print(f"| true 1.5× speedup (median gain {speed:.1f}%), accepted | {pw_k} gates | "
          f"{acc}/{pw_k} = {acc / pw_k:.0%} | ≥ 95% |")


if __name__ == "__main__":
    main()
