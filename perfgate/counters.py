"""Instruction counts: the one figure a busy neighbour on a shared machine cannot move.

Two counters, in order of preference: `perf stat -e instructions:u` where the CPU exposes
hardware counters (no slowdown), else valgrind's cachegrind with cache simulation off
(exact, deterministic for the same binary and input, but about 16-50x slower). Both follow
every child process, so a shell pipeline or a test runner is counted whole.
"""
from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = ("install valgrind (apt-get install -y valgrind, brew install valgrind) or, "
                "where the CPU exposes hardware counters, perf (apt-get install -y linux-perf)")


class CounterError(Exception):
    """The counter ran but left nothing readable behind."""


@dataclass(frozen=True)
class Counter:
    name: str          # "perf" or "valgrind"
    slowdown: float    # typical factor on a run's wall time: for timeouts and warnings

    def wrap(self, argv: Sequence[str], outdir: Path) -> list[str]:
        """argv run under the counter, writing its figures into outdir."""
        if self.name == "perf":
            return ["perf", "stat", "-x", ",", "-e", "instructions:u",
                    "-o", str(outdir / "perf.csv"), "--", *argv]
        return ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes",
                f"--cachegrind-out-file={outdir}/cg.%p", f"--log-file={outdir}/vg.%p.log",
                "--", *argv]

    def read(self, outdir: Path) -> int:
        """Total instructions the whole process tree executed."""
        if self.name == "perf":
            return _perf_total(outdir / "perf.csv")
        return _cachegrind_total(outdir)


_SUMMARY = re.compile(rb"^summary:\s+(\d+)", re.MULTILINE)


def _cachegrind_total(outdir: Path) -> int:
    # One file per traced process (cg.<pid>); a process that exec()s keeps its pid and its
    # file, so the sum counts each instruction once.
    files = sorted(outdir.glob("cg.*"))
    if not files:
        raise CounterError("valgrind wrote no cachegrind output (is the command executable?)")
    total = 0
    for f in files:
        m = _SUMMARY.search(f.read_bytes())
        if m is None:
            raise CounterError(f"cachegrind output {f.name} has no summary line")
        total += int(m.group(1))
    return total


def _perf_total(csv: Path) -> int:
    try:
        text = csv.read_text(errors="replace")
    except OSError as exc:
        raise CounterError(f"perf stat wrote no output ({exc.strerror})") from None
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].startswith("instructions"):
            if not fields[0].strip().isdigit():
                raise CounterError(f"perf stat could not count instructions ({fields[0]})")
            return int(fields[0])
    raise CounterError("perf stat printed no instructions line")


def _perf_counts() -> bool:
    """perf exists and this CPU (or VM) really exposes the instructions counter."""
    if shutil.which("perf") is None:
        return False
    from perfgate import harness  # the one module that spawns processes

    p = harness.call(["perf", "stat", "-x", ",", "-e", "instructions:u", "--", "true"],
                     cwd=".", timeout_s=10)
    if p.timed_out:
        return False
    line = next((ln for ln in p.stderr.decode(errors="replace").splitlines()
                 if "instructions" in ln), "")
    return p.returncode == 0 and line.split(",")[0].strip().isdigit()


@functools.cache
def tool() -> Counter | None:
    """The best counter this machine has, or None (then `INSTALL_HINT` says what to do)."""
    if _perf_counts():
        return Counter("perf", 1.1)
    if shutil.which("valgrind") is not None:
        return Counter("valgrind", 40.0)
    return None
