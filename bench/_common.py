"""Shared bits of the benchmarks: the machine line every figure carries, and test programs."""
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

PY = sys.executable

BURN = textwrap.dedent("""\
    import sys
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 700000
    total = 0
    for i in range(n):
        total += i * i % 7
    print(total)
""")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0]
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, load {load:.2f}")


def perfgate(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "perfgate", *args], cwd=cwd, capture_output=True, text=True,
                          check=check)


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()
