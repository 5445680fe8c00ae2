"""Running a suite: one call is one invocation of every benchmark, as one harness record.

An invocation is the unit of independent sampling. For perfgate's own list it runs each
benchmark's command once (each a process of its own); for an external harness it runs the
harness command once and reads its results through the format's adapter. Either way every
benchmark gets exactly one sample per invocation, so base and candidate invocations can
alternate ABBA like single runs (sessions.Recorder does that, with this as its executor).
"""
from __future__ import annotations

import dataclasses
import shlex
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from perfgate import harness, suites
from perfgate.errors import SuiteError
from perfgate.metrics import BUILTIN_METRICS
from perfgate.suites import spec

if TYPE_CHECKING:
    from perfgate.contract import Contract

STATISTICS = {"median": statistics.median, "min": min}
# Data points kept per benchmark and metric per invocation (evenly spaced, in order): enough
# for any plot; mitata alone reports tens of thousands. The sample uses all of them.
MAX_POINTS = 1000


class Invoker:
    """The executor of a suite's sessions (see sessions.Executor): same call signature as
    harness.run_once; the command it is handed is ignored, the suite is what runs."""

    def __init__(self, contract: Contract, run_once=harness.run_once) -> None:
        if contract.suite is None:
            raise ValueError("not a suite contract")
        self.contract, self.suite, self.run_once = contract, contract.suite, run_once
        self.source = contract.source
        self.expected: tuple[frozenset[str], Path] | None = None
        self._out_dir: str | None = None
        self._n = 0

    def __call__(self, command: str | None = None, *, cwd, env: Mapping[str, str] | None = None,
                 timeout_s: float = 600, metrics: Sequence = (), redact: Sequence[str] = (),
                 ledger: Path | None = None, count: bool = True) -> harness.RunRecord:
        kw = {"env": env, "timeout_s": timeout_s, "redact": redact, "ledger": ledger,
              "count": count}
        if self.suite.external:
            rec = self._external(Path(cwd), metrics, kw)
        else:
            rec = self._own(Path(cwd), metrics, kw)
        if rec.ok:
            self._check_names(set(rec.benchmarks), Path(cwd))
        return rec

    # -- perfgate's own list ---------------------------------------------------------------

    def benchmarks(self) -> list[spec.Expanded]:
        chosen = [b for b in spec.expand(self.suite.benchmarks or []) if self.suite.selected(b.name)]
        if not chosen:
            raise SuiteError(f"{self.source}: suite.include: include/exclude leave no benchmark "
                             "to measure")
        return chosen

    def _own(self, cwd: Path, metrics: Sequence, kw: dict) -> harness.RunRecord:
        per: dict[str, dict[str, float]] = {}
        records = []
        for b in self.benchmarks():
            rec = self.run_once(b.script, cwd=cwd, metrics=metrics, **kw)
            if not rec.ok:
                return _named(rec, b.name)
            per[b.name] = dict(rec.metrics)
            records.append(rec)
        total = {"wall_time": sum(r.wall_time for r in records),
                 "cpu_time": sum(r.cpu_time for r in records),
                 "peak_rss": max(r.peak_rss for r in records)}
        return dataclasses.replace(
            records[-1], wall_time=total["wall_time"], cpu_time=total["cpu_time"],
            peak_rss=total["peak_rss"], metrics=total, benchmarks=per, points={})

    # -- an external harness ---------------------------------------------------------------

    def _output(self) -> str:
        if self._out_dir is None:
            self._out_dir = tempfile.mkdtemp(prefix="perfgate-suite-")
        self._n += 1
        return str(Path(self._out_dir) / f"results-{self._n}.json")

    def _external(self, cwd: Path, metrics: Sequence, kw: dict) -> harness.RunRecord:
        output = self._output()
        command = (self.suite.command or "").replace("{output}", shlex.quote(output))
        # The harness's own cost (wall, CPU, memory of the invocation) is measured as usual;
        # what the benchmarks report comes from the results file.
        own = [m for m in metrics if m.name in BUILTIN_METRICS]
        started = time.time()
        rec = self.run_once(command, cwd=cwd, metrics=own, **kw)
        if not rec.ok:
            return rec
        points = self.read(cwd, output, started)
        Path(output).unlink(missing_ok=True)
        stat = STATISTICS[self.suite.statistic]
        per = {name: {m: float(stat(vs)) for m, vs in values.items()}
               for name, values in points.items()}
        kept = {name: {m: _thin(vs) for m, vs in values.items()}
                for name, values in points.items()}
        return dataclasses.replace(rec, benchmarks=per, points=kept)

    def read(self, cwd: Path, output: str, started: float) -> suites.Results:
        """Parse this invocation's results, keep the selected benchmarks, check the names."""
        fmt = self.suite.format or ""
        where = f"{self.source}: suite.format: {fmt} results"
        try:
            path = Path(output)
            if fmt == "asv" and "{output}" not in (self.suite.command or ""):
                from perfgate.suites import asv

                path = asv.results_file(cwd, started)
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                raise SuiteError(f"{where}: the command exited 0 but wrote no results file "
                                 f"at {{output}} (suite.command: {self.suite.command})") from None
            results = suites.parse(fmt, text)
        except suites.ParseError as exc:
            raise SuiteError(f"{where} do not parse: {exc}") from None
        chosen = {n: v for n, v in results.items() if self.suite.selected(n)}
        if not chosen:
            raise SuiteError(f"{self.source}: suite.include: include/exclude leave none of the "
                             f"{len(results)} benchmarks in the results "
                             f"({spec._some(sorted(results))})")
        prim = self.contract.metrics.primary.name
        if not any(prim in v for v in chosen.values()):
            have = sorted({m for v in chosen.values() for m in v})
            raise SuiteError(f"{self.source}: metrics.primary: the {fmt} results have no metric "
                             f"{prim} (they have {', '.join(have)})")
        for field, names in (("primary", [self.suite.primary]), ("target", self.suite.target)):
            for name in names:
                if name != spec.GEOMEAN and name not in chosen:
                    raise SuiteError(f"{self.source}: suite.{field}: no benchmark named {name!r} "
                                     f"in the results ({spec._some(sorted(chosen))})")
        return chosen

    def _check_names(self, names: set[str], cwd: Path) -> None:
        """Every invocation, on either side, must report the same benchmarks: a benchmark
        missing on one side cannot be compared, and a suite is never gated half-measured."""
        if self.expected is None:
            self.expected = (frozenset(names), cwd)
            return
        want, first = self.expected
        if names == want:
            return
        missing, extra = sorted(want - names), sorted(names - want)
        name = (missing or extra)[0]
        here, there = (cwd, first) if missing else (first, cwd)
        raise SuiteError(f"{self.source}: suite: benchmark {name!r} is missing from the results "
                         f"in {here} (present in {there}); a suite is compared only when both "
                         "sides report the same benchmarks")


def _thin(values: list[float]) -> list[float]:
    if len(values) <= MAX_POINTS:
        return values
    step = len(values) / MAX_POINTS
    return [values[int(i * step)] for i in range(MAX_POINTS)]


def _named(rec: harness.RunRecord, name: str) -> harness.RunRecord:
    """A failed benchmark's record, its problem line naming the benchmark."""
    lines = rec.stderr_tail.rstrip("\n").splitlines()
    last = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), None)
    if last is None:
        tail = f"benchmark {name}"
    else:
        lines[last] = f"benchmark {name}: {lines[last].strip()}"
        tail = "\n".join(lines)
    return dataclasses.replace(rec, stderr_tail=tail,
                               errors=tuple(f"benchmark {name}: {e}" for e in rec.errors))


def measure(contract, *, runs: int, warmup: int, cwd: Path, progress=None) -> list:
    """`perfgate measure --suite`: invocations of the suite in `cwd`, no store (like hyperfine
    with several commands). A failed invocation is an error naming it."""
    from perfgate.errors import MeasurementError

    invoke = Invoker(contract)
    wanted = contract.metrics.all()
    task = progress.add_task(contract.name, total=runs + warmup) if progress is not None else None
    records = []
    for i in range(warmup + runs):
        rec = invoke(None, cwd=cwd, timeout_s=contract.repro.timeout_s, metrics=wanted,
                     count=i >= warmup)
        if rec.problem():
            raise MeasurementError(f"invocation {i + 1}: {rec.problem()}")
        if i >= warmup:
            records.append(rec)
        if task is not None:
            progress.advance(task)
    return records
