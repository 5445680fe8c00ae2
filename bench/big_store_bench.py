"""Big stores stay fast: export, plot, history, status and the gate's reads on a store of
SAMPLES samples built through Store.add_sessions(), locally and (with --shared) on a shared
store with its catalog in PostgreSQL and its data on moto's S3 server, both on 127.0.0.1.

Run: python bench/big_store_bench.py [SAMPLES] [--shared]    (default 10000000)

Every command runs as its own process, as a user runs it; time is wall time, memory the
process's peak RSS (ru_maxrss). The reference for export is DuckDB's own COPY of the same
query (perfgate/queries/export.sql) to the same format, in its own process.
"""
import datetime as dt
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from _common import PY, machine  # noqa: E402

from perfgate.store import NewSession, Store, named_query  # noqa: E402

RUNS, METRICS = 25, ("wall_time", "cpu_time", "peak_rss", "instructions")  # 100 per session
CONTRACT = """version: 1
name: work
domain: cli_startup
repro: {script: "true", measurement_runs: 24, warmup_runs: 1}
metrics: {primary: {name: wall_time, unit: s, lower_is_better: true}}
"""


def build(store: Store, samples: int) -> tuple[int, int]:
    """`samples` samples in sessions of 1 warmup + 24 runs x 4 metrics, 5,000 sessions a call."""
    rnd = random.Random(1)
    total = samples // (RUNS * len(METRICS))
    fp = {"host": "bench", "cpu_model": "bench-cpu", "cores": "2"}
    start, ids = dt.datetime(2020, 1, 1), []
    for first in range(0, total, 5000):
        batch = []
        for i in range(first, min(total, first + 5000)):
            level = 1.0 + 0.1 * (i // 20000)
            batch.append(NewSession("work", ("baseline", "candidate")[i % 2], f"{i:040x}", fp,
                                    start + dt.timedelta(minutes=10 * i),
                                    [(j, j == 0, 0, {m: level * rnd.uniform(0.95, 1.05)
                                                     for m in METRICS}) for j in range(RUNS)]))
        ids += store.add_sessions(batch)
    return ids[-2], ids[-1]


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err}")
    return wall, usage.ru_maxrss / 1024


REFERENCE_LOCAL = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("COPY (" + open(sys.argv[2]).read() + ") TO '" + sys.argv[3] + "' (FORMAT parquet)")
"""
REFERENCE_SHARED = """
import sys
from pathlib import Path
from perfgate import shared
store = shared.open_store(__import__("perfgate.workspace").workspace.Project(Path(sys.argv[1])))
con = store._con(True)  # the same attached lake, then DuckDB's COPY and nothing of perfgate
con.execute("COPY (" + open(sys.argv[2]).read() + ") TO '" + sys.argv[3] + "' (FORMAT parquet)")
"""


def best(cmd, cwd, env=None, n=3):
    runs = [timed(cmd, cwd, env) for _ in range(n)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def measure(root: Path, shared: bool, env: dict | None, gate_reads) -> list[tuple]:
    flag = ["--shared"] if shared else []
    pg = [PY, "-m", "perfgate"]
    sql = root / "export.sql"
    sql.write_text(named_query("export"))
    rows = []
    ref = REFERENCE_SHARED if shared else REFERENCE_LOCAL
    target = str(root) if shared else str(root / ".perfgate" / "perfgate.duckdb")
    ours = [timed([*pg, "export", *flag, "--format", "parquet", "-o", str(root / "o.parquet")],
                  root, env) for _ in range(2)]
    theirs = [timed([PY, "-c", ref, target, str(sql), str(root / "r.parquet")], root, env)
              for _ in range(2)]
    (ow, orss), (tw, trss) = min(ours), min(theirs)
    rows.append(("export --format parquet", f"{ow:.2f} s, {orss:.0f} MiB",
                 f"DuckDB COPY {tw:.2f} s, {trss:.0f} MiB; ratio {ow / tw:.2f}",
                 "≤ 1.5× and < 1024 MiB"))
    w, rss = best([*pg, "plot", "work", *flag, "-o", str(root / "h.png")], root, env, 2)
    rows.append(("plot", f"{w:.2f} s, {rss:.0f} MiB", "400 points drawn", "< 5 s"))
    w, rss = best([*pg, "history", "work", *flag], root, env)
    rows.append(("history (whole command)", f"{w:.2f} s", "", "< 0.5 s"))
    if not shared:
        w, rss = best([*pg, "status"], root, env)
        rows.append(("status (whole command)", f"{w:.2f} s", "", "< 0.5 s"))
    w, rss = best([PY, "-c", "import perfgate.cli"], root, env)
    rows.append(("(python start + import perfgate.cli alone)", f"{w:.2f} s", "", ""))
    rows += library_times(root, shared)
    if gate_reads:
        rows.append(gate_reads)
    return rows


def library_times(root: Path, shared: bool) -> list[tuple]:
    """The same reads in this process, without Python's start-up, imports and matplotlib:
    what the store costs (median of 5, after one call that opens the store)."""
    from perfgate import overview
    from perfgate import shared as shared_mod
    from perfgate.workspace import Project

    project = Project(root)
    store = shared_mod.store_for(project, shared)
    calls = {"history()": lambda: store.history(metric="wall_time", contract="work"),
             "plot_series()": lambda: store.plot_series(metric="wall_time", contract="work")}
    if not shared:
        calls["status: overview.status_text()"] = lambda: overview.status_text(project)
    out = []
    for name, call in calls.items():
        t = time.perf_counter()
        call()
        first = time.perf_counter() - t
        times = []
        for _ in range(5):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        out.append((f"  {name} in-process", f"{statistics.median(times):.3f} s",
                    f"first call {first:.2f} s (opens the store)", "< 0.5 s / < 5 s"))
    return out


def gate_read_time(store: Store, a: int, b: int) -> float:
    """What a gate reads: both sessions' values (Store.values) and their summaries."""
    t = time.perf_counter()
    store.values([a, b], ["wall_time", "peak_rss"])
    for sid in (a, b):
        store.summary(sid)
    return time.perf_counter() - t


def gate_reads_side_by_side(big, small, n: int = 11) -> tuple[float, float]:
    """Alternating big and small store, so the shared machine's load hits both alike."""
    pairs = [(gate_read_time(*big), gate_read_time(*small)) for _ in range(n)]
    return (statistics.median(p[0] for p in pairs[1:]),
            statistics.median(p[1] for p in pairs[1:]))


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    samples = int(args[0]) if args else 10_000_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "big"
        (root / "contracts").mkdir(parents=True)
        (root / "contracts" / "work.yaml").write_text(CONTRACT)
        store = Store(root / ".perfgate" / "perfgate.duckdb")
        t = time.perf_counter()
        a, b = build(store, samples)
        built = time.perf_counter() - t
        n = store.query("SELECT count(*) FROM samples")[1][0][0]
        small = Store(Path(tmp) / "small.duckdb")
        sa, sb = build(small, 10_000)
        big_t, small_t = gate_reads_side_by_side((store, a, b), (small, sa, sb))
        gate = ("the gate's reads of two sessions (values of 2 metrics, 2 summaries)",
                f"{big_t * 1000:.1f} ms", f"{small_t * 1000:.1f} ms on a 10,000-sample store; "
                f"ratio {big_t / small_t:.2f}", "independent of size")
        import duckdb

        print(f"machine: {machine()}; DuckDB {duckdb.__version__}; "
              f"N = {n} samples in {n // 100} sessions, built by "
              f"Store.add_sessions in {built:.0f} s ({n / built / 1e6:.2f} M samples/s); "
              "best of 2-3 runs each\n")
        print("**Local store** (.perfgate/perfgate.duckdb, "
              f"{(root / '.perfgate' / 'perfgate.duckdb').stat().st_size / 2**20:.0f} MiB)\n")
        table(measure(root, False, None, gate))
        if "--shared" in sys.argv:
            shared_part(root, a, b)
    resource.getrusage(resource.RUSAGE_CHILDREN)


def shared_part(root: Path, a: int, b: int) -> None:
    from tests import servers

    pg, s3 = servers.Postgres(), servers.Moto()
    try:
        db, bucket = pg.new_database(), s3.new_bucket()
        env = {**os.environ, **s3.env(), "PERFGATE_SHARED_CATALOG": pg.catalog(db),
               "PERFGATE_SHARED_DATA": f"s3://{bucket}/history"}
        w, rss = timed([PY, "-m", "perfgate", "push", "--batch", "25000"], root, env)
        print(f"\n**Shared store** (catalog: PostgreSQL {pg.bindir.parent.name} on 127.0.0.1; "
              f"data: moto S3 on 127.0.0.1); pushing every session took "
              f"{w:.0f} s, {rss:.0f} MiB\n")
        from perfgate import shared
        from perfgate.workspace import Project

        os.environ.update(env)
        team = shared.open_store(Project(root))
        ids = [r[0] for r in team.query("SELECT id FROM sessions ORDER BY started DESC "
                                        "LIMIT 2")[1]]
        gate_read_time(team, *ids)  # opens the store
        t_big = statistics.median(gate_read_time(team, *ids) for _ in range(5))
        gate = ("the gate's reads of two sessions, on the shared store",
                f"{t_big * 1000:.0f} ms", "(the gate itself reads the local store)", "")
        table(measure(root, True, env, gate))
    finally:
        pg.close()
        s3.close()


def table(rows) -> None:
    print("| what | perfgate | reference | target |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
