"""The DuckDB store on real files: migrations, numbers in SQL, aborted sessions, locking."""
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field

import pytest

from perfgate.errors import StoreBusy, UsageError
from perfgate.store import Store, migrations

PY = sys.executable


@dataclass
class Rec:
    wall_time: float
    cpu_time: float = 0.1
    peak_rss: float = 10.0
    exit_code: int = 0
    timed_out: bool = False
    stdout_sha256: str = "x"
    stdout_bytes: int = 1
    stderr_tail: str = ""
    metrics: dict = field(default_factory=dict)

    def __post_init__(self):
        self.metrics = {"wall_time": self.wall_time, "cpu_time": self.cpu_time,
                        "peak_rss": self.peak_rss, **self.metrics}


def new_session(store, role="baseline", contract="c"):
    return store.begin_session(contract=contract, role=role, commit_sha="abc", tree_sha="t",
                               contract_digest="d", fingerprint={"host": "h"})


def test_migrations_apply_once(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    assert s.schema_version() == max(v for v, _, _ in migrations())
    s2 = Store(tmp_path / "p.duckdb")
    assert s2.schema_version() == s.schema_version()
    _, rows = s2.query("SELECT count(*) FROM schema_migrations")
    assert rows == [(len(migrations()),)]


def test_a_store_from_the_future_is_refused(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    with s._tx() as con:
        con.execute("INSERT INTO schema_migrations VALUES (999, 'future', now())")
    with pytest.raises(UsageError) as exc:
        Store(tmp_path / "p.duckdb").schema_version()
    assert str(exc.value) == (f"{tmp_path / 'p.duckdb'}: store schema version 999 is newer than "
                              f"this perfgate ({len(migrations())}); upgrade perfgate")


def test_summary_is_sql_and_matches_python(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    sid = new_session(s)
    s.add_run(sid, 0, Rec(9.0), warmup=True)
    values = [1.0, 1.2, 0.9, 1.1, 1.05]
    for i, v in enumerate(values, 1):
        s.add_run(sid, i, Rec(v, metrics={"p95": v * 10}), warmup=False)
    s.finish_session(sid)
    summ = s.summary(sid)
    w = summ["wall_time"]
    assert w.n == 5 and w.median == statistics.median(values)
    assert w.mean == pytest.approx(statistics.mean(values))
    assert w.sd == pytest.approx(statistics.stdev(values))
    assert w.cv == pytest.approx(statistics.stdev(values) / statistics.mean(values))
    assert (w.min, w.max) == (0.9, 1.2)
    assert summ["p95"].median == pytest.approx(10.5)
    assert s.samples(sid, "wall_time") == values
    assert s.latest_session("c", "baseline")["id"] == sid
    _, rows = s.query("SELECT count(*) FROM v_samples WHERE metric = 'wall_time'")
    assert rows == [(5,)]


def test_abort_stale_marks_dead_sessions_only(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    live = new_session(s)
    dead = new_session(s)
    p = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True,
                       text=True)
    with s._tx() as con:
        con.execute("UPDATE sessions SET pid = ?, pgid = 4242 WHERE id = ?",
                    [int(p.stdout), dead])
    assert s.abort_stale() == [(dead, 4242)]
    assert s.session(dead)["status"] == "aborted"
    assert s.session(live)["status"] == "running"
    s.finish_session(dead, "complete")  # an aborted session never becomes complete
    assert s.session(dead)["status"] == "aborted"
    assert s.latest_session("c", "baseline") is None


@pytest.mark.parametrize("sql", ["INSERT INTO sessions (contract) VALUES ('x')",
                                 "DROP TABLE samples", "CREATE TABLE t (a INT)"])
def test_query_is_read_only(tmp_path, sql):
    s = Store(tmp_path / "p.duckdb")
    s.schema_version()
    with pytest.raises(UsageError) as exc:
        s.query(sql)
    assert str(exc.value).startswith("sql: the store is read-only from here:")


def test_bad_sql_is_a_one_line_error(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    s.schema_version()
    with pytest.raises(UsageError) as exc:
        s.query("SELEC 1")
    assert str(exc.value).startswith("sql: Parser Error") and "\n" not in str(exc.value)


HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
""")


def test_a_locked_store_is_waited_for_then_reported_busy(tmp_path):
    path = tmp_path / "p.duckdb"
    Store(path).schema_version()
    holder = subprocess.Popen([PY, "-c", HOLDER, str(path), "1.5"], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "locked"
    t = time.monotonic()
    with pytest.raises(StoreBusy) as exc:
        Store(path, busy_timeout_s=0.4).schema_version()
    assert "store busy:" in str(exc.value) and f"pid {holder.pid}" in str(exc.value)
    assert time.monotonic() - t < 1.4
    assert Store(path, busy_timeout_s=10).schema_version() >= 1  # waits, then succeeds
    holder.wait()


WRITER = textwrap.dedent("""
    import sys
    from perfgate.store import Store
    s = Store(sys.argv[1], busy_timeout_s=60)
    for i in range(20):
        sid = s.begin_session(contract=sys.argv[2], role="baseline", commit_sha="a",
                              tree_sha="t", contract_digest="d", fingerprint={})
        s.finish_session(sid)
""")


def test_two_writers_both_complete(tmp_path):
    path = tmp_path / "p.duckdb"
    Store(path).schema_version()
    procs = [subprocess.Popen([PY, "-c", WRITER, str(path), name]) for name in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    _, rows = Store(path).query("SELECT contract, count(*) FROM sessions GROUP BY 1 ORDER BY 1")
    assert rows == [("a", 20), ("b", 20)]


def test_file_is_readable_by_duckdb_1x(tmp_path):
    import duckdb

    path = tmp_path / "p.duckdb"
    Store(path).schema_version()
    con = duckdb.connect(str(path), read_only=True)
    tags = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = 'p'").fetchone()
    con.close()
    assert tags[0]["storage_version"].startswith("v1.0.0")
