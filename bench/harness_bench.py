"""perfgate's harness against hyperfine and /usr/bin/time, side by side in one run.

Run: python bench/harness_bench.py [N]   (N runs per tool, default 30)

(a) Timing: the same ~100 ms command is timed by `perfgate measure --json` and by
    `hyperfine -N --export-json`, in alternating batches of 5 so machine drift hits both.
    perfgate runs commands through /bin/sh -c (like hyperfine's default shell mode, but
    without subtracting the shell's start-up), hyperfine -N execs directly: the ~1 ms of
    sh is in perfgate's figure and that is reported, not hidden.
(b) Peak RSS: a 200 MB allocation against `/usr/bin/time -v`, and three 100 MB children
    started by one shell (ru_maxrss alone would say ~100 MB).
(c) Overhead: wall time of a whole `perfgate measure --runs N` (start-up included) divided by
    N times the command's own median.
"""
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import BURN, PY, machine  # noqa: E402


def cv(v):
    return statistics.stdev(v) / statistics.mean(v)


def timing(cmd: str, n: int) -> tuple[list[float], list[float]]:
    pg, hf = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hf.json"
        for _ in range(n // 5):
            r = subprocess.run([PY, "-m", "perfgate", "measure", "--runs", "5", "--warmup", "1",
                                "--json", "--", cmd], capture_output=True, text=True, check=True)
            pg += [run["wall_time"] for run in json.loads(r.stdout)["runs"]]
            subprocess.run(["hyperfine", "-N", "--runs", "5", "--warmup", "1", "--export-json",
                            str(out), cmd], capture_output=True, check=True)
            hf += json.loads(out.read_text())["results"][0]["times"]
    return pg, hf


def peak_rss() -> list[str]:
    alloc = f"{PY} -c \"x = bytearray(200 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])\""
    r = subprocess.run([PY, "-m", "perfgate", "measure", "--runs", "3", "--warmup", "0", "--json",
                        "--", alloc], capture_output=True, text=True, check=True)
    pg = statistics.median(run["peak_rss"] for run in json.loads(r.stdout)["runs"])
    tv = []
    for _ in range(3):
        t = subprocess.run(["/usr/bin/time", "-v", "sh", "-c", alloc], capture_output=True,
                           text=True, check=True)
        kb = next(ln for ln in t.stderr.splitlines() if "Maximum resident" in ln).split()[-1]
        tv.append(int(kb) / 1024)
    tv_m = statistics.median(tv)
    child = (f"{PY} -c \"import time; x = bytearray(100 * 1024 * 1024); "
             f"x[::4096] = b'1' * len(x[::4096]); time.sleep(0.5)\"")
    tree = f"{child} & {child} & {child} & wait"
    r = subprocess.run([PY, "-m", "perfgate", "measure", "--runs", "3", "--warmup", "0", "--json",
                        "--", tree], capture_output=True, text=True, check=True)
    pg_tree = statistics.median(run["peak_rss"] for run in json.loads(r.stdout)["runs"])
    t = subprocess.run(["/usr/bin/time", "-v", "sh", "-c", tree], capture_output=True, text=True,
                       check=True)
    kb = next(ln for ln in t.stderr.splitlines() if "Maximum resident" in ln).split()[-1]
    return [f"| 200 MB allocation, peak RSS | perfgate {pg:.1f} MiB | /usr/bin/time -v "
            f"{tv_m:.1f} MiB | ratio {pg / tv_m:.3f} (target 0.98–1.02) |",
            f"| 3 × 100 MB children of one shell | perfgate {pg_tree:.1f} MiB | /usr/bin/time -v "
            f"{int(kb) / 1024:.1f} MiB (largest single process) | target ≥ 300 MiB |"]


def overhead(cmd: str, n: int, hf_median: float) -> str:
    """Total wall of one `perfgate measure` (start-up included) over the command's own time:
    the sum of the wall times it reported, and N times hyperfine's median."""
    t = time.perf_counter()
    r = subprocess.run([PY, "-m", "perfgate", "measure", "--runs", str(n), "--warmup", "0",
                        "--json", "--", cmd], capture_output=True, text=True, check=True)
    total = time.perf_counter() - t
    own = sum(run["wall_time"] for run in json.loads(r.stdout)["runs"])
    return (f"| overhead, `perfgate measure --runs {n}` of a {own / n * 1000:.0f} ms command "
            f"| total {total:.2f} s; ÷ the runs' own sum {own:.2f} s = {total / own:.3f} "
            f"| ÷ {n} × hyperfine's median = {total / (n * hf_median):.3f} | target ≤ 1.03 |")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "burn.py"
        script.write_text(BURN)
        cmd = f"{PY} {script}"
        pg, hf = timing(cmd, n)
        print(f"machine: {machine()}; N = {len(pg)} runs per tool, batches of 5 alternating\n")
        print("| what | perfgate | reference | result |\n|---|---|---|---|")
        ratio = statistics.median(pg) / statistics.median(hf)
        print(f"| wall time of a ~100 ms command, median | {statistics.median(pg) * 1000:.1f} ms "
              f"(CV {cv(pg) * 100:.1f}%) | hyperfine -N {statistics.median(hf) * 1000:.1f} ms "
              f"(CV {cv(hf) * 100:.1f}%) | ratio {ratio:.3f} (target 0.97–1.03) |")
        for line in peak_rss():
            print(line)
        print(overhead(cmd, 100, statistics.median(hf)))


if __name__ == "__main__":
    main()
