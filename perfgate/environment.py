"""The machine's noise: how fit this host is for benchmarking right now, and what to do about it.

quick() runs at the start of every measurement session, so it only reads a few small files:
no subprocess (systemd-detect-virt alone costs ~10 ms) and no psutil import (startup time).
full() adds a short CPU sample of the other processes, for `perfgate` commands that diagnose.
Every read tolerates absence and permission errors: an odd host must never stop a measurement.
"""
from __future__ import annotations

import glob
import os
import time
from collections.abc import Mapping
from typing import Any

BUSY_PCT = 25.0  # a quarter of a core is enough to steal timeslices from the measured command
MAX_HEAVY = 5

# (needle in "sys_vendor product_name", kind). Amazon and Google also sell bare metal under the
# same vendor string, so those two count only when the CPU itself says a hypervisor is present.
_VM_SIGNS = (("kvm", "kvm"), ("qemu", "qemu"), ("vmware", "vmware"), ("virtualbox", "oracle"),
             ("innotek", "oracle"), ("xen", "xen"), ("bochs", "bochs"), ("parallels", "parallels"),
             ("microsoft corporation virtual machine", "microsoft"))
_CLOUD_SIGNS = (("amazon ec2", "amazon"), ("google compute engine", "google"))
# Needles in /proc/1/cgroup (cgroup v1 paths name the runtime); first match wins, most specific first.
_CGROUP_SIGNS = (("kubepods", "kubernetes"), ("libpod", "podman"), ("docker", "docker"),
                 ("lxc", "lxc"), ("containerd", "container"), ("crio", "container"))


def _read(path: str, limit: int = 65536) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(limit).strip()
    except OSError:
        return ""


def _governor() -> str:
    found = {_read(p) for p in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor")}
    found.discard("")
    return ",".join(sorted(found)) or "unknown"


def _hypervisor_flag() -> bool:
    # Stop at the first "flags" line: cpuinfo repeats it per CPU and is large on big machines.
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return "hypervisor" in line.split()
    except OSError:
        pass
    return False


def _virtualization() -> str:
    dmi = f"{_read('/sys/class/dmi/id/sys_vendor')} {_read('/sys/class/dmi/id/product_name')}".lower()
    flagged = _hypervisor_flag()
    for needle, kind in _VM_SIGNS + (_CLOUD_SIGNS if flagged else ()):
        if needle in dmi:
            return kind
    # Xen guests without DMI (paravirtualised) announce themselves here instead.
    if _read("/sys/hypervisor/type"):
        return _read("/sys/hypervisor/type").lower()
    if flagged:
        # WSL2 is a Hyper-V guest with no DMI; its kernel names itself.
        return "microsoft" if "microsoft" in _read("/proc/sys/kernel/osrelease").lower() else "hypervisor"
    return "none"


def _container() -> str:
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    # systemd-nspawn, podman and lxc set `container` to their own name for PID 1; trust it.
    named = os.environ.get("container", "").strip()
    if named:
        return named if named.replace("-", "").isalnum() else "container"
    if os.path.exists("/run/.containerenv"):
        return "podman"
    if os.path.exists("/.dockerenv"):
        return "docker"
    cgroup = _read("/proc/1/cgroup").lower()
    for needle, kind in _CGROUP_SIGNS:
        if needle in cgroup:
            return kind
    return "none"


def _usable_cores(cores: int) -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux: assume every core is ours
        return cores


def quick() -> dict[str, Any]:
    """Cheap checks (a few ms), done at the start of every measurement session."""
    try:
        load = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = 0.0
    cores = os.cpu_count() or 1
    return {"governor": _governor(), "load_avg_1m": load, "cores": cores,
            "usable_cores": _usable_cores(cores), "virtualization": _virtualization(),
            "container": _container()}


def _heavy_processes(sample_s: float) -> list[dict[str, Any]]:
    import psutil  # here, not at the top: quick() is on every session's start-up path

    me = psutil.Process()
    # Our own work (perfgate, the command it runs, the shell that ran us) is not a neighbour.
    ours = {me.pid} | {p.pid for p in me.parents()}
    try:
        ours |= {p.pid for p in me.children(recursive=True)}
    except psutil.Error:
        pass
    procs = []
    for proc in psutil.process_iter():
        if proc.pid in ours:
            continue
        try:
            proc.cpu_percent(None)  # the first call only starts the clock
            procs.append(proc)
        except psutil.Error:
            continue
    time.sleep(sample_s)
    heavy = []
    for proc in procs:
        try:
            pct = proc.cpu_percent(None)
            if pct >= BUSY_PCT:
                heavy.append({"pid": proc.pid, "name": proc.name(), "cpu_pct": round(pct, 1)})
        except psutil.Error:  # exited or hidden during the sample
            continue
    heavy.sort(key=lambda h: h["cpu_pct"], reverse=True)
    return heavy[:MAX_HEAVY]


def full(sample_s: float = 0.3) -> dict[str, Any]:
    """quick() plus the other processes using >= 25% of a core over `sample_s` seconds."""
    env = quick()
    env["heavy_processes"] = _heavy_processes(sample_s)
    env["sample_s"] = sample_s
    return env


def advice(env: Mapping[str, Any]) -> list[str]:
    """One plain sentence per problem found; [] when the machine looks fit. Missing keys are skipped,
    so an environment recorded by an older perfgate still gets what advice it can."""
    out = []
    usable = env.get("usable_cores", env.get("cores"))
    load = env.get("load_avg_1m")
    if load is not None and usable and load >= 0.5 * usable:
        out.append(f"load average {load:.1f} on {usable} cores: results will be noisy; "
                   "wait for the machine to be idle or use the instructions metric")
    governor = env.get("governor")
    if governor and governor not in ("unknown", "performance"):
        out.append(f"CPU frequency governor is {governor}: clock speed will vary; "
                   "set `performance` (sudo cpupower frequency-set -g performance)")
    virt = env.get("virtualization")
    if virt and virt != "none":
        out.append(f"running in a virtual machine ({virt}): expect 10-20% run-to-run noise from "
                   "neighbours; prefer the instructions metric or more runs")
    container = env.get("container")
    if container and container != "none":
        out.append(f"running in a container ({container}): CPU limits and neighbours add noise")
    for proc in env.get("heavy_processes") or ():
        out.append(f"busy process: {proc.get('name', '?')} (pid {proc.get('pid', '?')}) "
                   f"uses {proc.get('cpu_pct', 0):.0f}% of a core")
    if env.get("usable_cores") == 1:
        out.append("only 1 usable core: the measured command competes with perfgate and the system")
    return out


def lines(env: dict) -> list[str]:
    """The machine checks as report lines: what was found, then advice for each problem."""
    busy = ", ".join(f"{p['name']} ({p['pid']}, {p['cpu_pct']:.0f}%)"
                     for p in env.get("heavy_processes") or []) or "none"
    found = [f"- CPU frequency governor: {env.get('governor', 'unknown')}",
             f"- load average (1 min) at start: {env.get('load_avg_1m', 'unknown')}",
             f"- cores: {env.get('cores', '?')} ({env.get('usable_cores', '?')} usable)",
             f"- virtual machine: {env.get('virtualization', 'unknown')}",
             f"- container: {env.get('container', 'unknown')}",
             f"- busy processes: {busy}"]
    return found + [f"- advice: {a}" for a in advice(env)]
