"""Does gating disturb what it measures? The gate's CV against `perfgate measure`'s.

Run: python bench/quiet_bench.py [ROUNDS] [N]   (default 8 rounds of N = 10 runs)

The same ~50 ms CPU-bound command, alternating round by round so machine drift hits both:
  (a) `perfgate measure --runs N --warmup 1`: the harness alone, no store;
  (b) `perfgate compare --base HEAD --head HEAD --no-adaptive` with N runs per side: the
      real gate (store writes, two interleaved sessions, verify off), A/A.
For each, the CV of wall time within a batch (a: one per round; b: both sessions); the
medians of those CVs and their ratio. The gate must not be noisier than the harness alone.
"""
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import BURN, PY, git, machine, perfgate  # noqa: E402


def cv(values):
    return statistics.stdev(values) / statistics.mean(values)


def size_for(ms: float, root: Path) -> int:
    """Loop iterations of BURN that take about `ms` here."""
    n = 200_000
    r = perfgate("measure", "--runs", "3", "--json", "--", f"{PY} burn.py {n}", cwd=root)
    took = statistics.median(run["wall_time"] for run in json.loads(r.stdout)["runs"])
    return max(10_000, int(n * ms / 1000 / took))


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "burn.py").write_text(BURN)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "burn.py")
        git(root, "commit", "-qm", "burn")
        size = size_for(50, root)
        cmd = f"{PY} burn.py {size}"
        (root / "contracts").mkdir()
        (root / "contracts" / "q.yaml").write_text(textwrap.dedent(f"""\
            name: q
            domain: cli_startup
            repro: {{script: "{cmd}", warmup_runs: 1, measurement_runs: {n}}}
            metrics: {{primary: {{name: wall_time}}}}
            threshold: {{type: pct, pct_min: 10}}
            significance: {{adaptive: false}}
            """))
        measure_cvs, gate_cvs, medians = [], [], {"measure": [], "gate": []}
        started = time.monotonic()
        for _ in range(rounds):
            r = perfgate("measure", "--runs", str(n), "--warmup", "1", "--json", "--", cmd,
                         cwd=root)
            walls = [run["wall_time"] for run in json.loads(r.stdout)["runs"]]
            measure_cvs.append(cv(walls))
            medians["measure"].append(statistics.median(walls))
            r = perfgate("compare", "q", "--base", "HEAD", "--head", "HEAD", "--yes", "--json",
                         cwd=root, check=False)
            doc = json.loads(r.stdout)
            for side in ("base", "candidate"):
                q = (f"SELECT value FROM v_samples WHERE session_id = {doc[side]['session']} "
                     "AND metric = 'wall_time' ORDER BY run")
                out = perfgate("sql", "--format", "json", q, cwd=root)
                walls = [row["value"] for row in json.loads(out.stdout)]
                gate_cvs.append(cv(walls))
                medians["gate"].append(statistics.median(walls))
        took = time.monotonic() - started
    m, g = statistics.median(measure_cvs), statistics.median(gate_cvs)
    print(f"machine: {machine()}; command {statistics.median(medians['measure']) * 1000:.1f} ms;"
          f" {rounds} rounds of N = {n}, alternating; {took:.0f} s")
    print()
    print("| what | batches | median CV of wall time | median of medians |")
    print("|---|---|---|---|")
    print(f"| `perfgate measure` (harness alone) | {len(measure_cvs)} | {m * 100:.2f}% | "
          f"{statistics.median(medians['measure']) * 1000:.2f} ms |")
    print(f"| `perfgate compare` A/A (the gate: store, interleaved) | {len(gate_cvs)} | "
          f"{g * 100:.2f}% | {statistics.median(medians['gate']) * 1000:.2f} ms |")
    print()
    print(f"ratio of the gate's CV to the harness's: {g / m:.2f} (target <= 1.10)")


if __name__ == "__main__":
    main()
