"""Process trees: who belongs to a run, how much memory it holds, and how it all dies.

Part of the harness (the only place that spawns and kills processes), split out to keep
both modules small. Reads /proc directly: this runs every 10 ms during a measurement.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import signal
import threading
import time
from collections.abc import Sequence

POLL_S = 0.01        # the first polls: short commands must be seen at all
POLL_MAX_S = 0.1     # a long run is polled less often: perfgate must not compete with it

_subreaper_done: bool | None = None


def become_subreaper() -> bool:
    """Orphaned grandchildren re-parent to us, so none escapes accounting or cleanup."""
    global _subreaper_done
    if _subreaper_done is None:
        _subreaper_done = False
        if platform.system() == "Linux":
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                _subreaper_done = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
            except (OSError, AttributeError):
                pass
    return _subreaper_done


def children(pid: int) -> list[int]:
    """Direct children, from /proc (cheap enough to call every 10 ms)."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        # A thread may end between the listing and the read (perfgate's own output pumps and
        # timer do, just as a run is torn down): skip it, not the threads after it.
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    return out


def tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += children(p)
    return seen


def memory_kb(pid: str | int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in kB from /proc/<pid>/status; (0, 0) once the process is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return rss, hwm


def _cmdline(pid: int | str) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return None


class Poller(threading.Thread):
    """Samples the tree's summed RSS and each process's own high-water mark.

    VmHWM starts afresh at exec, so unlike wait4's ru_maxrss it does not inherit the size of
    perfgate itself, which every forked child carries until it execs.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.seen = pid, 0, set()
        self.stop = threading.Event()
        self._own = _cmdline("self")
        self._execd: set[int] = set()

    def _after_exec(self, pid: int) -> bool:
        """A child that has not exec'd yet still shares (or copies) perfgate's memory: skip
        it. Once a pid has exec'd it stays so; remembering that saves a read per poll."""
        if pid in self._execd:
            return True
        cmd = _cmdline(pid)
        if cmd is None or cmd == self._own:
            return False
        self._execd.add(pid)
        return True

    def run(self) -> None:
        # Each process's own peak is the kernel's VmHWM, exact whenever it is read; polling
        # only adds the sum over processes alive at once. So the interval grows from 10 ms
        # to 100 ms: a long run costs perfgate ~10 reads a second, not 100.
        interval = POLL_S
        while True:
            pids = tree(self.pid)
            self.seen.update(pids)
            mems = [memory_kb(p) for p in pids if self._after_exec(p)]
            self.peak_kb = max(self.peak_kb, sum(m[0] for m in mems),
                               max((m[1] for m in mems), default=0))
            if self.stop.wait(interval):
                return
            interval = min(POLL_MAX_S, interval * 1.25)


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_leftovers(pgid: int, seen: set[int]) -> list[int]:
    """SIGKILL whatever survived: the group, descendants that left it, orphans re-parented to us.

    Only cheap /proc reads and kill(0) probes: this runs after every measured run.
    """
    kill_group(pgid, signal.SIGKILL)
    victims = [p for p in seen | set(children(os.getpid()))
               if p not in RUNNING and p != os.getpid() and exists(p)]
    for p in victims:
        try:
            os.kill(p, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return victims


RUNNING: set[int] = set()  # pids this module spawned and has not reaped yet


# -- the ledger of process groups ------------------------------------------------------------
# One empty file per running command, `<perfgate pid>.<pgid>`, written by the launcher before
# the command starts and removed once it is reaped. A file whose perfgate is gone names a
# group that a killed perfgate left behind.

def forget_group(ledger: os.PathLike | str, pgid: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(ledger, f"{os.getpid()}.{pgid}"))


def orphaned_groups(ledger: os.PathLike | str) -> list[tuple[str, int]]:
    """(file, pgid) of every group recorded by a perfgate process that no longer exists."""
    try:
        names = os.listdir(ledger)
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        owner, _, pgid = name.partition(".")
        if owner.isdigit() and pgid.isdigit() and not exists(int(owner)):
            out.append((os.path.join(ledger, name), int(pgid)))
    return out


def reap(pids: Sequence[int], timeout_s: float = 2.0) -> float:
    """Wait for killed leftovers to be gone; returns the CPU seconds of those that were our
    children (re-parented to us: they ran for this command). One that is not ours yet is
    waited for until it is a zombie or gone, so none is still running when a run ends."""
    cpu = 0.0
    deadline = time.monotonic() + timeout_s
    for pid in pids:
        try:
            _, _, ru = os.wait4(pid, 0)
            cpu += ru.ru_utime + ru.ru_stime
        except ChildProcessError:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.005)
    return cpu


def settle(pgid: int, seen: set[int], rounds: int = 5) -> float:
    """Kill and reap a finished command's leftovers until none is left; their CPU seconds.
    A leftover's own children re-parent to us (a subreaper) only as it dies, after the first
    round's list was taken: each round catches the ones the last one orphaned."""
    cpu = 0.0
    for _ in range(rounds):
        victims = kill_leftovers(pgid, seen)
        if not victims:
            break
        cpu += reap(victims)
        seen = set()
    return cpu


def _alive(pid: int) -> bool:
    """Exists and is not a zombie (state Z) or dead (X)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@contextlib.contextmanager
def deferred_interrupts():
    """Hold Ctrl-C and SIGTERM while a process is being spawned: an interrupt inside
    Popen or the launcher would leave a running child nobody kills. The caller checks the
    returned list afterwards, where it can clean up."""
    pending: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.getsignal(s) for s in sigs}
    for s in sigs:
        signal.signal(s, lambda signum, frame: pending.append(signum))
    try:
        yield pending
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
