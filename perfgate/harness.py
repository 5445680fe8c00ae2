"""The only module that spawns processes: timed repro runs, verify and profiler commands, git,
the fixer and the counters. process runs one command under watch; proctree, its helper, finds
and kills the trees."""
from __future__ import annotations

import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfgate import metrics as metrics_mod
from perfgate import proctree
from perfgate.process import STDERR_KEEP, execute, execute_measured, scratch


@dataclass(frozen=True)
class Called:
    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False

    @property
    def tail(self) -> str:
        return (self.stdout + b"\n" + self.stderr).decode(errors="replace")[-STDERR_KEEP:]

    def failure(self, what: str, timeout_s: float | None = None) -> str | None:
        """None when it succeeded; else one line: `WHAT failed (exit N): the lines that explain`."""
        if self.timed_out:
            after = f" after {timeout_s:g} s" if timeout_s else ""
            return f"{what} timed out{after} (the process tree was killed)"
        if self.returncode == 0:
            return None
        how = (f"killed by signal {-self.returncode}" if self.returncode < 0
               else f"exit {self.returncode}")
        why = explain(self.stderr.decode(errors="replace") + "\n" +
                      self.stdout.decode(errors="replace")[-STDERR_KEEP:])
        return f"{what} failed ({how}): {why}" if why else f"{what} failed ({how})"


# A line that names the error, in the words of the usual toolchains: Python's and Node's
# `XError: ...`, cargo's `error[E0425]:` and `error:`, Go's `panic:` and `undefined:`, npm's
# `npm ERR!`, a shell's `not found`.
_ERROR_LINE = re.compile(
    r"(\b[A-Z]\w*(Error|Exception)\b(:|$)|^\s*(error|fatal|panic)(\[\w+\])?\s*:|\bERR!|"
    r"^\s*Error\b|\bnot found\b|No such file|cannot find|Cannot find|undefined:|"
    r"\bfailed\b|\bFAIL\b)")
EXPLAIN_WIDTH = 400


def explain(text: str, tail: int = 2, width: int = EXPLAIN_WIDTH) -> str:
    """The lines of a failed command's output that explain it, as one line: the first line
    that names an error, then the last `tail` lines (Node's last line is only its version,
    Python's is the exception, cargo's a summary), joined with " | "."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    first = next((i for i, ln in enumerate(lines) if _ERROR_LINE.search(ln)
                  and not ln.startswith("Traceback")), None)
    keep = sorted(({first} if first is not None else set())
                  | set(range(max(0, len(lines) - tail), len(lines))))
    picked: list[str] = []
    for n, i in enumerate(keep):
        if n and i > keep[n - 1] + 1:
            picked.append("…")
        picked.append(lines[i])
    out = " | ".join(picked)
    return out if len(out) <= width else out[:width - 1] + "…"


@dataclass(frozen=True)
class RunRecord:
    """One run of a command: what the kernel and the poller saw, and what it reported."""

    wall_time: float
    cpu_time: float
    peak_rss: float          # MiB, whole tree (see process.Outcome.tree_peak_kb)
    ru_maxrss_mb: float      # the kernel's figure as reported, inherited part included
    tree_rss_mb: float
    exit_code: int           # negative: killed by that signal
    timed_out: bool
    stdout_sha256: str
    stdout_bytes: int
    stderr_tail: str
    metrics: dict[str, float] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    timeout_s: float = 0.0
    # A suite invocation: benchmark -> metric -> its one sample, and the invocation's own
    # data points behind it (perfgate.suites.runner fills these; empty for a plain run).
    benchmarks: dict[str, dict[str, float]] = field(default_factory=dict)
    points: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem() is None

    def problem(self) -> str | None:
        """A one-line reason this run cannot be used, or None."""
        if self.timed_out:
            return f"timed out after {self.timeout_s:g} s (the process tree was killed)"
        if self.exit_code != 0:
            why = explain(self.stderr_tail)
            how = (f"killed by signal {-self.exit_code}" if self.exit_code < 0
                   else f"exit {self.exit_code}")
            return f"{how}: {why}" if why else how
        if self.errors:
            return self.errors[0]
        if self.missing:
            return f"metric {self.missing[0]} missing (not reported by the command)"
        return None


_SHELL_SYNTAX = re.compile(r"[;&|<>$`(){}*?\[\]~#!\n\\]")


def needs_shell(command: str) -> bool:
    """Does the command use shell syntax (pipes, globs, variables, `&&`, quotes aside)?"""
    return bool(_SHELL_SYNTAX.search(command))


def argv_for(command: str, cwd: str | Path = ".", path: str | None = None) -> list[str]:
    """A plain `prog arg ...` runs without a shell (like hyperfine -N): no sh start-up in the
    measurement. Anything with shell syntax (pipes, globs, variables, `&&`, `VAR=x cmd`) gets
    /bin/sh -c."""
    if not _SHELL_SYNTAX.search(command):
        try:
            argv = shlex.split(command)
        except ValueError:
            argv = []
        if argv and "=" not in argv[0]:
            prog = argv[0]
            found = (os.access(Path(cwd, prog), os.X_OK) and Path(cwd, prog).is_file()
                     if "/" in prog else shutil.which(prog, path=path))
            if found:
                return argv
    return ["/bin/sh", "-c", command]


def _redact(text: str, redact: Sequence[str]) -> str:
    for secret in redact:
        if secret:
            text = text.replace(secret, "***")
    return text


# -- public API ----------------------------------------------------------------------------

def run_once(command: str, *, cwd, env: Mapping[str, str] | None = None,
             timeout_s: float = 600, metrics: Sequence = (), redact: Sequence[str] = (),
             ledger: Path | None = None, count: bool = True) -> RunRecord:
    """Run a shell command once and measure it: wall, CPU and peak memory of the whole tree.

    With `instructions` among the metrics and `count`, a second pass counts instructions
    (warmup runs skip it: their timed pass already warmed caches and wrote .pyc files)."""
    metrics_file = scratch("metrics.json")  # the command creates it if it has anything to say
    child_env = dict(os.environ if env is None else env)
    child_env["PERFGATE_METRICS_FILE"] = metrics_file
    try:
        o = execute_measured(argv_for(command, cwd, child_env.get("PATH")), cwd=cwd,
                              env=child_env, timeout_s=timeout_s, ledger=ledger)
        found, missing, errors = metrics_mod.extract(
            metrics, o.stdout_kept.decode(errors="replace"), Path(metrics_file), Path(cwd))
    finally:
        Path(metrics_file).unlink(missing_ok=True)
    ru_mb, tree_mb = o.ru_maxrss_kb / 1024, o.tree_peak_kb / 1024
    builtin = {"wall_time": o.wall_ns / 1e9, "cpu_time": o.cpu, "peak_rss": tree_mb}
    if count and o.exit_code == 0 and not o.timed_out and any(
            s.name == "instructions" for s in metrics):
        # A separate pass: the counter slows the command 1-50x, and the timed pass above must
        # stay what the user would see. Same tree, same environment, same arguments.
        n, problem = count_instructions(command, cwd=cwd, env=child_env, timeout_s=timeout_s,
                                        ledger=ledger)
        if n is not None:
            builtin["instructions"] = float(n)
        else:
            errors.append(f"metric instructions: {problem}")
    stderr_tail = _redact(o.stderr_tail.decode(errors="replace"), redact)
    return RunRecord(
        wall_time=builtin["wall_time"], cpu_time=o.cpu, peak_rss=builtin["peak_rss"],
        ru_maxrss_mb=ru_mb, tree_rss_mb=tree_mb, exit_code=o.exit_code, timed_out=o.timed_out,
        stdout_sha256=o.stdout_hash, stdout_bytes=o.stdout_bytes, stderr_tail=stderr_tail,
        metrics={**found, **builtin}, missing=tuple(missing),
        errors=tuple(_redact(e, redact) for e in errors), timeout_s=timeout_s)


def count_instructions(command: str, *, cwd, env: Mapping[str, str] | None = None,
                       timeout_s: float = 600, ledger: Path | None = None
                       ) -> tuple[int | None, str]:
    """(instructions the command's whole tree executed, "") or (None, why not)."""
    from perfgate import counters

    counter = counters.tool()
    if counter is None:
        return None, f"no instruction counter on this machine; {counters.INSTALL_HINT}"
    outdir = Path(scratch("count"))
    outdir.mkdir()
    child_env = dict(os.environ if env is None else env)
    # A file of its own: what the timed pass reported must not be overwritten.
    child_env["PERFGATE_METRICS_FILE"] = str(outdir / "metrics.json")
    # Python salts str hashes per process, which moves its instruction count run to run
    # (bench/noisy_bench.py counts); a fixed seed makes the count repeatable. Like CodSpeed,
    # we pin it for the counted pass only, unless the user's environment already chose one.
    child_env.setdefault("PYTHONHASHSEED", "0")
    try:
        argv = counter.wrap(argv_for(command, cwd, child_env.get("PATH")), outdir)
        o = execute_measured(argv, cwd=cwd, env=child_env,
                              timeout_s=timeout_s * counter.slowdown * 2, poll=False,
                              ledger=ledger)
        if o.timed_out:
            return None, f"the counted run under {counter.name} timed out"
        if o.exit_code != 0:
            return None, f"the counted run under {counter.name} failed (exit {o.exit_code})"
        return counter.read(outdir), ""
    except counters.CounterError as exc:
        return None, str(exc)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def run_shell(command: str, *, cwd, env: Mapping[str, str] | None = None,
              timeout_s: float | None = 600, redact: Sequence[str] = (),
              ledger: Path | None = None) -> Called:
    """Run a shell command (verify, profiler) with tree cleanup; output comes back redacted."""
    o = execute(["/bin/sh", "-c", command], cwd=cwd, env=env, timeout_s=timeout_s, poll=False,
                 ledger=ledger)
    clean = [_redact(b.decode(errors="replace"), redact).encode() for b in
             (o.stdout_kept, o.stderr_tail)]
    return Called(o.exit_code, clean[0], clean[1], o.timed_out)


def call(argv: Sequence[str], *, cwd: str | Path, env: Mapping[str, str] | None = None,
         timeout_s: float | None = None, input: bytes | None = None) -> Called:
    """Run argv (never through a shell) and capture its output; the tree dies on timeout."""
    try:
        p = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                             stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    except FileNotFoundError:
        return Called(127, b"", f"{argv[0]}: command not found".encode())
    try:
        out, err = p.communicate(input=input, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proctree.kill_group(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return Called(-9, out, err, timed_out=True)
    except BaseException:
        proctree.kill_group(p.pid, signal.SIGKILL)
        p.wait()
        raise
    return Called(p.returncode, out, err)


def sweep(pgid: int) -> int:
    """Kill what is left of a recorded process group (after perfgate itself was killed)."""
    import psutil

    killed = 0
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != os.getpid() and os.getpgid(proc.pid) == pgid:
                proc.kill()
                killed += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            continue
    return killed


def fingerprint() -> dict[str, str]:
    """What must match for two sessions to be comparable. Nothing here varies run to run."""
    import perfgate

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh
                        if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"host": platform.node(), "cpu_model": cpu, "cores": str(os.cpu_count()),
            "os": platform.platform(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "perfgate": perfgate.__version__}
