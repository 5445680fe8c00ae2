"""Cold start of `perfgate --help` (target <= 0.25 s): the real interpreter, best and median of N.

Run: python bench/startup_bench.py [N]
"""
import platform
import statistics
import subprocess
import sys
import time


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "perfgate", "--help"], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - t)
    bare = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - t)
    print(f"machine: {platform.node()} ({platform.processor() or platform.machine()}), "
          f"{subprocess.os.cpu_count()} cores, Python {platform.python_version()}, N={n}")
    print("| command | median s | best s |\n|---|---|---|")
    print(f"| perfgate --help | {statistics.median(times):.3f} | {min(times):.3f} |")
    print(f"| python -c pass | {statistics.median(bare):.3f} | {min(bare):.3f} |")


if __name__ == "__main__":
    main()
