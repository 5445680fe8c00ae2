"""One command run under perfgate's watch: launched in its own session through a tiny shell,
waited for with wait4, its output pumped, its memory polled, its whole tree killed on timeout
or Ctrl-C. harness builds timed runs, verify and profiler calls on this; nothing else does."""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfgate import proctree
from perfgate.errors import MeasurementError

STDOUT_KEEP = 8 * 1024 * 1024     # what metric parsing sees; the hash covers everything
STDERR_KEEP = 4 * 1024
STDERR_HEAD = 2 * 1024            # the start too: the error is often first, a stack trace after
TERM_GRACE_S = 1.0


def _pump(stream, sink: Callable[[bytes], None]) -> threading.Thread:
    def loop() -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            sink(chunk)
        stream.close()
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


@dataclass
class Outcome:
    exit_code: int
    timed_out: bool
    wall_ns: int
    cpu: float
    ru_maxrss_kb: int
    tree_peak_kb: int         # max(polled tree RSS sum, any process's VmHWM, credible ru_maxrss)
    stdout_hash: str
    stdout_bytes: int
    stdout_kept: bytes
    stderr_tail: bytes


# A tiny shell starts the command in the background and exits. The command is then a child
# of the small shell, not of perfgate, so the kernel's ru_maxrss for it does not start at
# perfgate's own size (a forked child's high-water mark is its parent's until exec), and as
# perfgate is a child subreaper the command re-parents to us for wait4.
# Before anything is started, the launcher records its process group (its own pid: it leads
# a new session) in the ledger as `<perfgate pid>.<pgid>`, and gives up if perfgate is
# already gone: a perfgate killed -9 at any instant leaves no process the next start cannot
# find, and perfgate itself touches nothing (no store, no thread) while the command runs.
# The background side writes its own pid (read from /proc/self/stat: dash has no $BASHPID)
# and execs the command, so the launcher runs nothing after the fork: a shell that still had
# `echo $!` to run would reap a command that had already exited, and its exit status would
# be lost to us. `exec` also means a name like `true` runs the program, not a shell builtin.
# perfgate passes its own pid: a perfgate killed -9 before the shell starts leaves the shell
# re-parented (to init, or to a subreaper such as systemd --user), and its $PPID would then
# name a process that lives on, so the command would run under a ledger entry nothing ever
# sweeps. A shell whose parent is not that pid runs nothing.
_LAUNCH = ('g=$1; f=$2; p=$3; shift 3; [ "$PPID" = "$p" ] || exit 126; '
           '[ -z "$g" ] || : > "$g/$p.$$" || exit 126; '
           'kill -0 "$p" 2>/dev/null || exit 126; '
           '{ read -r pid rest < /proc/self/stat; echo "$pid" > "$f"; exec "$@"; } &')
PID_WAIT_S = 5.0


_SCRATCH: list[str] = []
_COUNTER = iter(range(1 << 62))


def scratch(name: str) -> str:
    """A fresh path in perfgate's private temp dir (made once: every run pays for nothing)."""
    if not _SCRATCH:
        import atexit
        import shutil as _shutil

        _SCRATCH.append(tempfile.mkdtemp(prefix="perfgate-"))
        atexit.register(_shutil.rmtree, _SCRATCH[0], True)
    return os.path.join(_SCRATCH[0], f"{next(_COUNTER)}-{name}")


def _launch(argv: Sequence[str], ledger: Path | None, **popen) -> tuple[subprocess.Popen, int]:
    pidfile = scratch("pid")
    if ledger is not None:
        os.makedirs(ledger, exist_ok=True)
    proc = subprocess.Popen(["/bin/sh", "-c", _LAUNCH, "perfgate", str(ledger or ""), pidfile,
                             str(os.getpid()), *argv], **popen)
    try:
        _, status, _ = os.wait4(proc.pid, 0)   # once the launcher is reaped, its child is ours
        proc.returncode = 0
        if status != 0:
            raise MeasurementError(f"could not record the command's process group in {ledger} "
                                   "(is the directory writable?)")
        return proc, _read_pid(pidfile)
    except BaseException:
        # Ctrl-C between the launch and the wait: the command already runs in the group.
        proctree.kill_group(proc.pid, signal.SIGKILL)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pidfile)


def _read_pid(pidfile: str) -> int:
    """The pid the command's side wrote (it may still be on its way: it runs concurrently)."""
    deadline = time.monotonic() + PID_WAIT_S
    while True:
        with contextlib.suppress(FileNotFoundError):
            text = Path(pidfile).read_text()
            if text.endswith("\n"):
                return int(text)
        if time.monotonic() > deadline:
            raise MeasurementError("the launcher did not report the command's pid "
                                   f"within {PID_WAIT_S:g} s (fork failed?)")
        time.sleep(0.0002)


def execute(argv: Sequence[str], *, cwd, env, timeout_s: float | None, poll: bool = True,
             ledger: Path | None = None) -> Outcome:
    """Spawn in a new session through the launcher, wait with wait4, kill the whole tree on
    timeout or Ctrl-C. Nothing but this thread's wait, the output pumps and (with `poll`) the
    memory poller runs in perfgate while the command does."""
    launch = proctree.become_subreaper()
    sha = hashlib.sha256()
    out_buf = bytearray()
    err_buf = bytearray()
    total = [0]

    def take_out(chunk: bytes) -> None:
        sha.update(chunk)
        total[0] += len(chunk)
        out_buf.extend(chunk)
        if len(out_buf) > 2 * STDOUT_KEEP:  # keep the tail: metrics are usually printed last
            del out_buf[:len(out_buf) - STDOUT_KEEP]

    err_head = bytearray()
    err_total = [0]

    def take_err(chunk: bytes) -> None:
        err_total[0] += len(chunk)
        if len(err_head) < STDERR_HEAD:   # where most errors are named (then a stack trace)
            err_head.extend(chunk[:STDERR_HEAD - len(err_head)])
        err_buf.extend(chunk)
        if len(err_buf) > 4 * STDERR_KEEP:
            del err_buf[:len(err_buf) - STDERR_KEEP]

    own_hwm_kb = proctree.memory_kb("self")[1]
    popen = {"cwd": cwd, "env": dict(env) if env is not None else None,
             "stdin": subprocess.DEVNULL,
             "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "start_new_session": True}
    t0 = time.perf_counter_ns()
    with proctree.deferred_interrupts() as pending:
        if launch:
            proc, pid = _launch(argv, ledger, **popen)
            pgid = proc.pid
        else:
            proc = subprocess.Popen(list(argv), **popen)
            pid = pgid = proc.pid
        proctree.RUNNING.add(pid)
        readers = [_pump(proc.stdout, take_out), _pump(proc.stderr, take_err)]
        poller = proctree.Poller(pid)
        if poll:
            poller.start()
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            proctree.kill_group(pgid, signal.SIGTERM)
            time.sleep(TERM_GRACE_S)
            proctree.kill_group(pgid, signal.SIGKILL)
            for p in list(poller.seen):   # descendants that left the group (setsid) die too
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, signal.SIGKILL)
        timer = threading.Timer(timeout_s, on_timeout) if timeout_s else None
        if timer is not None:
            timer.daemon = True
            timer.start()
    try:
        if pending:  # Ctrl-C arrived while spawning: now it can be honoured, with cleanup
            raise KeyboardInterrupt
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter_ns() - t0
    except BaseException:
        # This run is being torn down: it is no longer "running", so its own pid is fair game
        # for settle (which kills the group first), even if it left the group.
        proctree.RUNNING.discard(pid)
        proctree.settle(pgid, poller.seen | {pid})   # reaps pid too
        if ledger is not None and launch:
            proctree.forget_group(ledger, pgid)
        raise
    finally:
        proctree.RUNNING.discard(pid)
        if timer is not None:
            timer.cancel()
        poller.stop.set()
    exit_code = os.waitstatus_to_exitcode(status)
    if not launch:
        proc.returncode = exit_code  # so Popen does not wait again
    extra_cpu = proctree.settle(pgid, poller.seen)
    if ledger is not None and launch:
        proctree.forget_group(ledger, pgid)
    for r in readers:
        r.join(timeout=5)
    if poll:
        poller.join(timeout=1)
    # A forked child inherits perfgate's high-water mark until it execs, so ru_maxrss at or
    # below our own peak says nothing about the command: trust it only above that.
    # A command too short for the first poll leaves only the kernel's figure: an upper bound,
    # but the same on both sides of a comparison, so a memory watchdog still compares like
    # with like.
    credible_kb = ru.ru_maxrss if (launch or ru.ru_maxrss > own_hwm_kb * 1.02
                                   or poller.peak_kb == 0) else 0
    return Outcome(exit_code, timed_out.is_set(), wall,
                    ru.ru_utime + ru.ru_stime + extra_cpu, ru.ru_maxrss,
                    max(poller.peak_kb, credible_kb),
                    sha.hexdigest(), total[0], bytes(out_buf),
                    _head_and_tail(bytes(err_head), bytes(err_buf), err_total[0]))


def _head_and_tail(head: bytes, buf: bytes, total: int) -> bytes:
    """stderr as kept: all of it when short, else its start, a mark, and its last 4 KiB."""
    if total == len(buf) and total <= STDERR_HEAD + STDERR_KEEP:
        return buf
    return head + b"\n[...]\n" + buf[-STDERR_KEEP:]


LOST_RETRIES = 3


def execute_measured(argv: Sequence[str], **kw) -> Outcome:
    """execute, run again if the command's exit status was lost.

    If wait4 finds the command already reaped by someone else (the launcher used to do it
    when the command exited before the launcher's last line; a library in the same process
    calling wait() could), its exit status and rusage are gone: that run measured nothing
    we can trust, so it is discarded and repeated.
    """
    for _ in range(LOST_RETRIES - 1):
        with contextlib.suppress(ChildProcessError):
            return execute(argv, **kw)
    try:
        return execute(argv, **kw)
    except ChildProcessError:
        raise MeasurementError(
            f"lost track of the command's process {LOST_RETRIES} times in a row (something "
            "else reaped it); is another tool waiting on perfgate's children?") from None
