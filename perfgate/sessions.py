"""Measurement sessions: drive the harness for one side (or two, interleaved) and record every run."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perfgate import harness, proctree
from perfgate.errors import Interrupted, MeasurementError, RunFailed

if TYPE_CHECKING:  # pydantic costs ~80 ms of start-up that `perfgate measure` does not need
    from perfgate.contract import Contract

# What runs one command once and measures it: harness.run_once, or a fake in the gate loop's
# tests (as hyperfine's mock executor), which then run in milliseconds.
Executor = Callable[..., harness.RunRecord]


@dataclass
class Side:
    """One measured thing: a command in a directory, recorded as one store session."""

    label: str                      # "baseline", "candidate", "preflight", ...
    role: str
    cwd: Path
    commit: str | None
    tree: str | None
    session_id: int = 0
    records: list = field(default_factory=list)     # measurement runs (harness.RunRecord)
    warmups: list = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    script: str | None = None       # instead of the contract's repro (calibration's burn)

    def values(self, metric: str) -> list[float]:
        return [r.metrics[metric] for r in self.records if metric in r.metrics]


@dataclass
class Recorder:
    """Runs the contract's repro for a set of sides and writes every run to the store.

    Runs are written a round at a time (and whenever the measurement ends, however it ends):
    opening DuckDB costs tens of milliseconds, and a session that dies with a round unwritten
    is aborted and never used anyway.
    """

    store: object
    contract: Contract
    env: Mapping[str, str]
    redact: Sequence[str] = ()
    comparison_id: int | None = None
    stop_on_failure: bool = True
    progress: object = None          # a rich Progress (or None)
    environment: dict | None = None  # machine checks for the fingerprint; default: the quick ones
    ledger: Path | None = None       # running process groups (proctree); beside the store
    executor: Executor = harness.run_once
    _task: object = None
    _pending: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.ledger is None:
            self.ledger = Path(self.store.path).parent / "running"
        if getattr(self.contract, "suite", None) is not None and \
                self.executor is harness.run_once:
            # A suite's run is one invocation of all its benchmarks (perfgate.suites.runner).
            from perfgate.suites.runner import Invoker

            self.executor = Invoker(self.contract)

    def open(self, sides: Sequence[Side], fingerprint: dict) -> None:
        ids = self.store.begin_sessions([
            {"contract": self.contract.name, "role": side.role, "commit_sha": side.commit,
             "tree_sha": side.tree, "contract_digest": self.contract.digest(),
             "fingerprint": fingerprint, "comparison_id": self.comparison_id}
            for side in sides])
        for side, sid in zip(sides, ids, strict=True):
            side.session_id = sid

    def flush(self, finish: Mapping[int, str] | None = None) -> None:
        """Write the runs taken since the last flush (and end sessions) in one transaction."""
        if self._pending or finish:
            self.store.add_runs(self._pending, finish=finish or {})
            self._pending = []

    def run(self, side: Side, idx: int, *, warmup: bool) -> harness.RunRecord:
        rec = self.executor(
            side.script or self.contract.repro.script, cwd=side.cwd, env=self.env,
            timeout_s=self.contract.repro.timeout_s, metrics=self.contract.metrics.all(),
            redact=self.redact, count=not warmup, ledger=self.ledger)
        self._pending.append((side.session_id, idx, rec, warmup))
        (side.warmups if warmup else side.records).append(rec)
        problem = rec.problem()
        if problem:
            kind = "warmup run" if warmup else "run"
            side.problems.append(f"{side.label} {kind} {idx + 1}: {problem}")
            if self.stop_on_failure:
                raise RunFailed(side.problems[-1], side.role)
        if self.progress is not None and self._task is not None:
            self.progress.advance(self._task)
        return rec

    def measure(self, sides: Sequence[Side], *, warmup: int, runs: int,
                interleave: bool = True, more: Callable[[int], int] | None = None) -> None:
        """Warm up each side, then take `runs` measurements per side.

        With several sides the order follows ABBA blocks (A B B A A B B A ...), so a slow drift of
        the machine lands on both sides equally instead of biasing whichever ran last.
        `more(done)` is asked after every round how many further runs per side to take (an
        adaptive gate's rounds): they go into the same sessions, interleaved the same way.
        """
        from perfgate import environment

        recover(self.store, self.ledger)
        fingerprint = {**harness.fingerprint(),
                       "environment": self.environment or environment.quick()}
        self.open(sides, fingerprint)
        total = (warmup + runs) * len(sides)
        with (self._progress_task(total, " vs ".join(s.label for s in sides)),
              self._finishing(sides)):
            for side in sides:
                for i in range(warmup):
                    self.run(side, i, warmup=True)
            done, batch = 0, runs
            while batch > 0:
                for side, i in schedule(list(sides), batch, interleave):
                    self.run(side, warmup + done + i, warmup=False)
                done += batch
                self.flush()
                batch = more(done) if more is not None else 0
                if batch and self.progress is not None and self._task is not None:
                    self.progress.update(self._task, total=total + batch * len(sides))
                    total += batch * len(sides)
            for side in sides:
                self._check_untouched(side)

    def _check_untouched(self, side: Side) -> None:
        """A repro that writes into the tree it runs from changes what is measured (and
        would be committed with an accepted change): that is a failure, with the paths."""
        from perfgate import vcs

        if not side.tree:
            return
        now = vcs.tree_hash(side.cwd)
        if now != side.tree:
            paths = vcs.changed_paths(side.cwd, side.tree, now)
            shown = ", ".join(paths[:5]) + (", …" if len(paths) > 5 else "")
            side.problems.append(
                f"{side.label}: the repro changed files in its tree ({shown}); write outputs "
                "outside the tree or to git-ignored paths")
            if self.stop_on_failure:
                raise RunFailed(side.problems[-1], side.role)

    @contextlib.contextmanager
    def _progress_task(self, total: int, label: str) -> Iterator[None]:
        if self.progress is not None:
            self._task = self.progress.add_task(label, total=total)
        try:
            yield
        finally:
            self._task = None

    @contextlib.contextmanager
    def _finishing(self, sides: Sequence[Side]) -> Iterator[None]:
        """Every session ends complete, failed or aborted: never left `running` by us."""
        try:
            yield
        except KeyboardInterrupt:
            with proctree.deferred_interrupts():  # a second Ctrl-C must not skip this write
                self.flush({s.session_id: "aborted" for s in sides})
            raise Interrupted("interrupted: the running process tree was killed and the "
                              "session marked aborted") from None
        except BaseException:
            self.flush({s.session_id: "failed" for s in sides})
            raise
        self.flush({s.session_id: "failed" if s.problems else "complete" for s in sides})


def recover(store, ledger: Path | None) -> list[int]:
    """What a killed perfgate left behind, set right before any new session opens: its
    `running` sessions become aborted (never used for a decision) and the process groups in
    the ledger whose perfgate is gone are killed. Returns the aborted sessions' ids."""
    aborted = store.abort_stale()
    if ledger is not None:
        ledger.mkdir(parents=True, exist_ok=True)
        for path, pgid in proctree.orphaned_groups(ledger):
            harness.sweep(pgid)
            Path(path).unlink(missing_ok=True)
    return aborted


def schedule(sides: list[Side], runs: int, interleave: bool) -> Iterator[tuple[Side, int]]:
    """The run order: ABBA blocks when interleaving two sides, else each side in turn."""
    if len(sides) == 1 or not interleave:
        for side in sides:
            for i in range(runs):
                yield side, i
        return
    counts = {id(s): 0 for s in sides}
    block = 0
    while any(c < runs for c in counts.values()):
        order = sides if block % 2 == 0 else list(reversed(sides))
        for side in order:
            if counts[id(side)] < runs:
                yield side, counts[id(side)]
                counts[id(side)] += 1
        block += 1


def progress_bar():
    """A progress bar with ETA on stderr, so stdout stays machine-readable."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True,
                    disable=not console.is_terminal)


def run_series(command: list[str], *, runs: int, warmup: int, timeout_s: float,
               cwd: Path | None = None, progress=None, count_instructions: bool = False) -> list:
    """`perfgate measure`: the harness alone, no store. One argument is a shell string."""
    import shlex

    from perfgate.metrics import Builtin

    script = command[0] if len(command) == 1 else shlex.join(command)
    wanted = [Builtin("instructions")] if count_instructions else []
    task = progress.add_task(script[:40], total=runs + warmup) if progress is not None else None
    records = []
    for i in range(warmup + runs):
        rec = harness.run_once(script, cwd=cwd or Path.cwd(), timeout_s=timeout_s,
                               metrics=wanted, count=i >= warmup)
        if rec.problem():
            raise MeasurementError(f"run {i + 1}: {rec.problem()}")
        if i >= warmup:
            records.append(rec)
        if task is not None:
            progress.advance(task)
    return records
