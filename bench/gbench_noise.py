"""How Google Benchmark's own settings move the noise a suite gate sees, side by side.

Run: python bench/gbench_noise.py [INVOCATIONS]   (default 20)

The 40-benchmark binary of bench/suite_bench.py, built once with g++ against Debian's
libbenchmark-dev, run INVOCATIONS times under each setting below, the settings taking turns
(invocation 1 of each, then 2 of each, ...), so drift on this shared machine hits them alike.
Per setting: the spread between invocations of each benchmark's per-invocation median CPU time
(the sample perfgate's google-benchmark adapter tests), as the median over the 40 benchmarks
of their coefficients of variation, and the wall time one invocation takes.

Why: a suite's samples are its invocations (one per benchmark per process), so what decides
a suite gate's power is the spread between invocations, not within one. On this VM the
repetitions inside one invocation agree to about 2% while invocations differ by 20-25%; this
bench asks whether the harness's own settings (more or longer repetitions, random
interleaving) or disabling address-space randomization narrow that. Run on 2026-12-06 none
did (docs/suites.md): only more invocations do.
"""
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine  # noqa: E402
from suite_bench import SOURCE, sizes  # noqa: E402

SETTINGS = {
    "3 repetitions, min_time 0.002 s (suite_bench.py's)": ["--benchmark_repetitions=3"],
    "9 repetitions, back to back": ["--benchmark_repetitions=9"],
    "3 repetitions, min_time 0.02 s (10x longer)": ["--benchmark_repetitions=3",
                                                   "--benchmark_min_time=0.02"],
    "9 repetitions, random interleaving": ["--benchmark_repetitions=9",
                                           "--benchmark_enable_random_interleaving=true"],
    "5 repetitions, random interleaving": ["--benchmark_repetitions=5",
                                           "--benchmark_enable_random_interleaving=true"],
    "3 repetitions, ASLR off (setarch -R)": ["setarch", "-R", "--benchmark_repetitions=3"],
}


def invocation(binary: Path, out: Path, args: list[str]) -> dict[str, float]:
    prefix = [a for a in args if not a.startswith("--")]   # a wrapper command: setarch -R
    args = [a for a in args if a.startswith("--")]
    if not any(a.startswith("--benchmark_min_time") for a in args):
        args = [*args, "--benchmark_min_time=0.002"]
    subprocess.run([*prefix, str(binary), f"--benchmark_out={out}", "--benchmark_out_format=json",
                    *args],
                   cwd=binary.parent, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    per: dict[str, list[float]] = {}
    for b in json.loads(out.read_text())["benchmarks"]:
        if b.get("run_type") == "iteration":
            per.setdefault(b["run_name"], []).append(b["cpu_time"])
    return {name: statistics.median(v) for name, v in per.items()}


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "b.cc").write_text(SOURCE)
        (d / "sizes.txt").write_text(sizes(False))
        subprocess.run(["g++", "-O2", "b.cc", "-o", "b", "-lbenchmark", "-lpthread"], cwd=d,
                       check=True)
        values = {s: {} for s in SETTINGS}
        walls = {s: [] for s in SETTINGS}
        for _ in range(n):
            for s, args in SETTINGS.items():
                t0 = time.perf_counter()
                for name, v in invocation(d / "b", d / "out.json", args).items():
                    values[s].setdefault(name, []).append(v)
                walls[s].append(time.perf_counter() - t0)
    print(f"machine: {machine()}; 40 benchmarks, {n} invocations per setting, settings taking "
          "turns\n")
    print("| Google Benchmark setting | CV between invocations (median of 40) | "
          "wall time per invocation |")
    print("|---|---|---|")
    for s in SETTINGS:
        cvs = [statistics.stdev(v) / statistics.fmean(v) for v in values[s].values()]
        print(f"| {s} | {100 * statistics.median(cvs):.1f}% | "
              f"{statistics.median(walls[s]):.2f} s |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
