"""Machine noise checks: quick() is cheap and well-typed, advice() says the exact sentences,
full() finds a real busy neighbour and ignores our own descendants."""
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import psutil

from perfgate import environment

BUSY = "while True: pass"
CLEAN = {"governor": "performance", "load_avg_1m": 0.1, "cores": 8, "usable_cores": 8,
         "virtualization": "none", "container": "none", "heavy_processes": [], "sample_s": 0.3}


def test_quick_has_typed_keys_and_is_fast():
    env = environment.quick()
    types = {"governor": str, "load_avg_1m": float, "cores": int, "usable_cores": int,
             "virtualization": str, "container": str}
    assert {k: type(env[k]) for k in types} == types
    assert env["governor"] and env["virtualization"] and env["container"]
    assert 1 <= env["usable_cores"] <= env["cores"]
    start = time.perf_counter()
    for _ in range(10):
        environment.quick()
    assert time.perf_counter() - start < 0.05


def test_advice_is_empty_on_a_clean_or_empty_dict():
    assert environment.advice(CLEAN) == []
    assert environment.advice({}) == []
    assert environment.advice({"governor": "unknown", "load_avg_1m": 0.5}) == []  # no core count: skip


def test_advice_sentences():
    env = {"governor": "powersave", "load_avg_1m": 1.8, "cores": 2, "usable_cores": 2,
           "virtualization": "kvm", "container": "docker",
           "heavy_processes": [{"pid": 1234, "name": "python3", "cpu_pct": 95.0}]}
    assert environment.advice(env) == [
        "load average 1.8 on 2 cores: results will be noisy; "
        "wait for the machine to be idle or use the instructions metric",
        "CPU frequency governor is powersave: clock speed will vary; "
        "set `performance` (sudo cpupower frequency-set -g performance)",
        "running in a virtual machine (kvm): expect 10-20% run-to-run noise from neighbours; "
        "prefer the instructions metric or more runs",
        "running in a container (docker): CPU limits and neighbours add noise",
        "busy process: python3 (pid 1234) uses 95% of a core",
    ]
    assert environment.advice({**CLEAN, "cores": 4, "usable_cores": 1, "load_avg_1m": 0.2}) == [
        "only 1 usable core: the measured command competes with perfgate and the system"]
    assert environment.advice({**CLEAN, "load_avg_1m": 3.99}) == []  # below half of 8 cores
    assert environment.advice({**CLEAN, "load_avg_1m": 4.0})[0].startswith("load average 4.0 on 8 cores")


def test_full_ignores_our_own_busy_child():
    child = subprocess.Popen([sys.executable, "-c", BUSY], start_new_session=True)
    try:
        env = environment.full(0.5)
        assert env["sample_s"] == 0.5 and set(environment.quick()) < set(env)
        assert child.pid not in {p["pid"] for p in env["heavy_processes"]}
    finally:
        child.kill()
        child.wait()


def test_full_reports_a_busy_neighbour():
    # Double fork: the subshell exits, so the busy python is orphaned and is no longer our descendant.
    script = f"( exec {shlex.quote(sys.executable)} -c {shlex.quote(BUSY)} >/dev/null 2>&1 & echo $! )"
    pid = int(subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout)
    try:
        if psutil.Process(pid).ppid() == os.getpid():
            # An earlier test made this process a child subreaper, so the orphan is ours again:
            # look from a sibling process instead, for which it is a neighbour.
            code = "import json; from perfgate import environment as e; print(json.dumps(e.full(0.5)))"
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            env = json.loads(out.stdout)
        else:
            env = environment.full(0.5)
        heavy = {p["pid"]: p for p in env["heavy_processes"]}
        assert pid in heavy, env["heavy_processes"]
        assert heavy[pid]["cpu_pct"] >= 25 and heavy[pid]["name"].startswith("python")
        assert [p["cpu_pct"] for p in env["heavy_processes"]] == sorted(
            (p["cpu_pct"] for p in env["heavy_processes"]), reverse=True)
        assert f"(pid {pid})" in " ".join(environment.advice(env))
    finally:
        os.kill(pid, signal.SIGKILL)
