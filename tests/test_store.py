"""The DuckDB store on real files: migrations, numbers in SQL, aborted sessions, locking."""
import json
import statistics
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field

import pytest

from perfgate import store as store_module
from perfgate.errors import StoreBusy, UsageError
from perfgate.store import Store, migrations

PY = sys.executable
LATEST = max(v for v, _, _ in migrations())


def schema_version(store: Store) -> int:
    """Opening a store for writing applies its migrations; this says which it is at."""
    store.abort_stale()
    return store.query("SELECT max(version) FROM schema_migrations")[1][0][0]


@dataclass
class Rec:
    """Has the attributes of harness.RunRecord that the store reads."""

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


def measured(store, values, role="baseline", contract="c"):
    sid = new_session(store, role, contract)
    store.add_run(sid, 0, Rec(99.0), warmup=True)
    for i, v in enumerate(values, 1):
        store.add_run(sid, i, Rec(v), warmup=False)
    store.finish_session(sid)
    return sid


# -- migrations ----------------------------------------------------------------------------

def test_migrations_are_numbered_in_order():
    # Numbers are handed out in blocks per issue (0004-0009, 0010-0014, ...), so a branch
    # may skip some; they stay unique and increasing, and 0001-0003 come first.
    versions = [v for v, _, _ in migrations()]
    assert versions == sorted(set(versions)) and versions[:3] == [1, 2, 3]
    assert [n for _, n, _ in migrations()][:2] == ["initial", "views"]


def test_fresh_store_applies_every_migration_once(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    assert schema_version(s) == LATEST
    _, first = s.query("SELECT version, name, applied FROM schema_migrations ORDER BY version")
    assert [(v, n) for v, n, _ in first] == [(v, n) for v, n, _ in migrations()]
    again = Store(tmp_path / "p.duckdb")
    assert schema_version(again) == LATEST
    assert again.query("SELECT version, name, applied FROM schema_migrations "
                       "ORDER BY version")[1] == first  # same rows, same timestamps
    tables = set(r[0] for r in again.query("SELECT table_name FROM duckdb_tables()")[1])
    assert {"sessions", "runs", "samples", "comparisons", "decisions", "hotspots",
            "schema_migrations"} <= tables


def test_a_store_from_the_future_is_refused(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    with s._tx() as con:
        con.execute("INSERT INTO schema_migrations VALUES (?, 'future', now())", [LATEST + 1])
    with pytest.raises(UsageError) as exc:
        schema_version(Store(tmp_path / "p.duckdb"))
    assert str(exc.value) == (f"{tmp_path / 'p.duckdb'}: store schema version {LATEST + 1} is "
                              f"newer than this perfgate ({LATEST}); upgrade perfgate")


def test_a_failing_migration_leaves_nothing_behind(tmp_path, monkeypatch):
    path = tmp_path / "p.duckdb"
    schema_version(Store(path))
    broken = (LATEST + 1, "broken", "CREATE TABLE half (a INTEGER); SELECT * FROM nowhere;")
    monkeypatch.setattr(store_module, "migrations", lambda: [*migrations(), broken])
    with pytest.raises(Exception, match="nowhere"):
        schema_version(Store(path))
    monkeypatch.undo()
    s = Store(path)
    assert schema_version(s) == LATEST
    assert s.query("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'half'")[1] == [(0,)]


CRASHER = textwrap.dedent("""
    import os, sys
    import perfgate.store as st
    known = st.migrations()
    if sys.argv[2] == "first":  # the process dies inside the very first migration
        v, name, sql = known[0]
        st.migrations = lambda: [(v, name, sql + "; SELECT die();")]
    else:
        crash = "CREATE TABLE half (a INTEGER); INSERT INTO half VALUES (1); SELECT die();"
        st.migrations = lambda: [*known, (known[-1][0] + 1, "crash", crash)]
    connect = st.Store._connect
    def dying(self, read_only=False):
        con = connect(self, read_only)
        con.create_function("die", lambda: os._exit(9), [], "INTEGER", side_effects=True)
        return con
    st.Store._connect = dying
    st.Store(sys.argv[1]).abort_stale()
""")


@pytest.mark.parametrize("when", ["first", "later"])
def test_a_crash_mid_migration_leaves_no_half_schema(tmp_path, when):
    path = tmp_path / "p.duckdb"
    if when == "later":
        schema_version(Store(path))
    p = subprocess.run([PY, "-c", CRASHER, str(path), when], capture_output=True, text=True)
    assert p.returncode == 9, p.stderr  # killed inside the migration, no cleanup ran
    s = Store(path)
    assert schema_version(s) == LATEST  # re-applied from scratch: nothing "already exists"
    assert s.query("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'half'")[1] == [(0,)]
    assert [r[0] for r in s.query("SELECT version FROM schema_migrations ORDER BY version")[1]] \
        == [v for v, _, _ in migrations()]


def test_a_file_that_is_not_a_store_is_a_one_line_error(tmp_path):
    path = tmp_path / "p.duckdb"
    path.write_text("not a database\n" * 500)
    with pytest.raises(UsageError) as exc:
        schema_version(Store(path))
    assert str(exc.value).startswith(f"{path}: cannot open the store (")
    assert "\n" not in str(exc.value)


# -- sessions, runs, numbers ---------------------------------------------------------------

def test_summary_is_sql_and_matches_python(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    sid = new_session(s)
    s.add_run(sid, 0, Rec(9.0, metrics={"p95": 1e6}), warmup=True)
    values = [1.0, 1.2, 0.9, 1.1, 1.05, 1.3]
    for i, v in enumerate(values, 1):
        s.add_run(sid, i, Rec(v, metrics={"p95": v * 10}), warmup=False)
    s.finish_session(sid)
    summ = s.summary(sid)
    assert set(summ) == {"wall_time", "cpu_time", "peak_rss", "p95"}
    w = summ["wall_time"]
    assert w.n == 6 and w.median == pytest.approx(statistics.median(values))
    assert w.mean == pytest.approx(statistics.mean(values))
    assert w.sd == pytest.approx(statistics.stdev(values))
    assert w.cv == pytest.approx(statistics.stdev(values) / statistics.mean(values))
    assert (w.min, w.max) == (0.9, 1.3)
    assert summ["p95"].median == pytest.approx(statistics.median(v * 10 for v in values))
    assert summ["p95"].max == pytest.approx(13.0)  # the warmup's 1e6 is not counted
    assert summ["cpu_time"].sd == 0 and summ["cpu_time"].cv == 0
    assert s.samples(sid, "wall_time") == values
    assert s.samples(sid, "nothing") == []
    assert s.latest_session("c", "baseline")["id"] == sid
    assert s.session(sid)["fingerprint"] == {"host": "h"}
    _, rows = s.query("SELECT count(*), count(*) FILTER (WHERE warmup) FROM runs")
    assert rows == [(7, 1)]  # the warmup run is stored, flagged
    _, rows = s.query("SELECT count(*) FROM v_samples WHERE metric = 'wall_time'")
    assert rows == [(6,)]
    _, rows = s.query("SELECT n, median, mean, sd, cv, min, max FROM v_session_stats "
                      "WHERE session_id = ? AND metric = 'wall_time'", [sid])
    assert rows[0] == pytest.approx((w.n, w.median, w.mean, w.sd, w.cv, w.min, w.max))


def test_a_single_run_has_no_sd_and_zero_mean_no_cv(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    one = measured(s, [2.0])
    assert s.summary(one)["wall_time"].sd is None
    zero = measured(s, [0.0, 0.0])
    assert s.summary(zero)["wall_time"].cv is None


def test_running_and_aborted_sessions_are_never_handed_out(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    running = new_session(s)
    s.add_run(running, 0, Rec(1.0), warmup=False)
    for call in (lambda: s.summary(running), lambda: s.samples(running, "wall_time")):
        with pytest.raises(UsageError, match=f"session {running} is running;"):
            call()
    assert s.samples(running, "wall_time", any_status=True) == [1.0]
    assert s.summary(running, any_status=True)["wall_time"].n == 1
    s.finish_session(running, "aborted")
    s.finish_session(running, "complete")  # an aborted session never becomes complete
    assert s.session(running)["status"] == "aborted"
    with pytest.raises(UsageError, match=f"session {running} is aborted;"):
        s.samples(running, "wall_time")
    done = measured(s, [1.0, 2.0], role="candidate")
    with pytest.raises(UsageError, match="aborted"):
        s.new_comparison("c", running, done)
    assert s.query("SELECT count(*) FROM comparisons")[1] == [(0,)]
    assert s.latest_session("c", "baseline") is None
    assert s.latest_session("c", "baseline", status="aborted")["id"] == running
    assert s.query("SELECT DISTINCT session_id FROM v_samples")[1] == [(done,)]
    with pytest.raises(UsageError, match="no session 999"):
        s.samples(999, "wall_time")


def test_failed_sessions_keep_their_samples_for_the_gate_to_reject(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    sid = new_session(s, role="candidate")
    s.add_run(sid, 1, Rec(1.0, exit_code=3, stderr_tail="boom"), warmup=False)
    s.finish_session(sid, "failed")
    assert s.samples(sid, "wall_time") == [1.0]
    _, rows = s.query("SELECT exit_code, stderr_tail, session_status FROM v_runs")
    assert rows == [(3, "boom", "failed")]
    assert s.sessions_overview()[0]["failed_runs"] == 1


def test_roles_and_statuses_are_checked(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    with pytest.raises(ValueError, match="role"):
        new_session(s, role="nonsense")
    sid = new_session(s)
    with pytest.raises(ValueError, match="finishes"):
        s.finish_session(sid, "running")


def test_comparison_decision_and_hotspots(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    base, cand = measured(s, [2.0, 2.1, 2.2]), measured(s, [1.0, 1.1, 1.2], role="candidate")
    cid = s.new_comparison("c", base, cand)
    assert s.session(base)["comparison_id"] == s.session(cand)["comparison_id"] == cid
    did = s.record_decision(contract="c", comparison_id=cid, base_session=base,
                            candidate_session=cand, verdict="accepted", metric="wall_time",
                            change_pct=-47.6, p_value=0.05, reasons=["median improved"],
                            document={"verdict": "accepted"})
    _, rows = s.query("SELECT decision_id, verdict, base_commit, candidate_tree, "
                      "reasons->>'$[0]' FROM v_decisions")
    assert rows == [(did, "accepted", "abc", "t", "median improved")]
    _, rows = s.query("SELECT document->>'$.verdict' FROM decisions")
    assert rows == [("accepted",)]
    with pytest.raises(ValueError, match="no column bogus"):
        s.record_decision(contract="c", verdict="x", bogus=1)
    s.record_hotspots("c", 1, [{"file": "a.py", "line_start": 3, "function": "f",
                                "self_share": 0.5}, {"file": "b.py", "function": "g"}])
    _, rows = s.query("SELECT rank, file, function, status FROM hotspots ORDER BY rank")
    assert rows == [(1, "a.py", "f", "proposed"), (2, "b.py", "g", "proposed")]
    overview = s.sessions_overview("c", limit=1)
    assert [(o["id"], o["role"], o["status"], o["runs"]) for o in overview] == \
        [(cand, "candidate", "complete", 3)]
    assert s.sessions_overview("other") == []


def test_abort_stale_marks_dead_sessions_only(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    live = new_session(s)  # this process: alive
    dead = new_session(s)
    gone = subprocess.Popen([PY, "-c", "pass"])
    gone.wait()  # reaped: its pid names no process now
    with s._tx() as con:
        con.execute("UPDATE sessions SET pid = ? WHERE id = ?", [gone.pid, dead])
    assert s.abort_stale() == [dead]
    assert s.session(dead)["status"] == "aborted" and s.session(dead)["finished"] is not None
    assert s.session(live)["status"] == "running"
    assert s.abort_stale() == []  # already aborted: not reported twice


def test_sessions_of_other_hosts_are_left_alone(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    other = new_session(s)
    with s._tx() as con:  # pid 1 on some other machine: not ours to judge
        con.execute("UPDATE sessions SET host = 'elsewhere', pid = 2147483646 WHERE id = ?",
                    [other])
    assert s.abort_stale() == []
    assert s.session(other)["status"] == "running"


# -- read-only SQL -------------------------------------------------------------------------

@pytest.mark.parametrize("sql", ["INSERT INTO sessions (contract) VALUES ('x')",
                                 "DROP TABLE samples", "CREATE TABLE t (a INT)",
                                 "UPDATE sessions SET status = 'complete'"])
def test_query_is_read_only(tmp_path, sql):
    s = Store(tmp_path / "p.duckdb")
    sid = new_session(s)
    with pytest.raises(UsageError) as exc:
        s.query(sql)
    assert str(exc.value).startswith("sql: the store is read-only from here: ")
    assert "\n" not in str(exc.value)
    assert Store(tmp_path / "p.duckdb").session(sid)["status"] == "running"  # unchanged


def test_select_works_and_bad_sql_is_a_one_line_error(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    new_session(s, contract="x")
    assert s.query("SELECT contract, role FROM sessions WHERE contract = ?", ["x"]) == \
        (["contract", "role"], [("x", "baseline")])
    for bad, start in (("SELEC 1", "sql: Parser Error"),
                       ("SELECT nope FROM sessions", "sql: Binder Error")):
        with pytest.raises(UsageError) as exc:
            s.query(bad)
        assert str(exc.value).startswith(start) and "\n" not in str(exc.value)


def test_query_without_a_store_says_so(tmp_path):
    with pytest.raises(UsageError, match="no store yet"):
        Store(tmp_path / "none.duckdb").query("SELECT 1")
    assert not (tmp_path / "none.duckdb").exists()


# -- locking -------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
""")


def test_a_locked_store_is_waited_for_then_reported_busy(tmp_path):
    path = tmp_path / "p.duckdb"
    schema_version(Store(path))
    holder = subprocess.Popen([PY, "-c", HOLDER, str(path), "1.5"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreBusy) as exc:
            schema_version(Store(path, busy_timeout_s=0.5))
        assert str(exc.value) == (f"store busy: {path} is locked by another perfgate process "
                                  f"(pid {holder.pid}); try again when it finishes")
        with pytest.raises(StoreBusy):  # reading waits for the writer too
            Store(path, busy_timeout_s=0.2).query("SELECT 1")
        assert holder.poll() is None  # still holding the lock when we start waiting
        s = Store(path, busy_timeout_s=10)
        sid = new_session(s)  # waits for the holder to exit, then writes
        assert holder.wait(timeout=10) == 0   # it released the lock; exiting may lag a little
        assert s.session(sid)["status"] == "running"
    finally:
        holder.kill()
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


@pytest.mark.slow
def test_two_writers_both_complete(tmp_path):
    path = tmp_path / "p.duckdb"  # not created yet: both race to create it too
    procs = [subprocess.Popen([PY, "-c", WRITER, str(path), name], stderr=subprocess.PIPE,
                              text=True) for name in ("a", "b")]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [rc for rc, _ in results] == [0, 0], results
    _, rows = Store(path).query("SELECT contract, status, count(*), count(DISTINCT id) "
                                "FROM sessions GROUP BY ALL ORDER BY 1")
    assert rows == [("a", "complete", 20, 20), ("b", "complete", 20, 20)]
    assert Store(path).query("SELECT count(*) FROM schema_migrations")[1] == \
        [(len(migrations()),)]


# -- file format ---------------------------------------------------------------------------

def test_file_is_written_for_duckdb_1x(tmp_path):
    import duckdb

    path = tmp_path / "p.duckdb"
    measured(Store(path), [1.0, 2.0])
    con = duckdb.connect(str(path), read_only=True)
    tags = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = 'p'").fetchone()
    con.close()
    assert tags[0]["storage_version"].startswith("v1.0.0")
    # The header's storage format number: 64 is what DuckDB 0.10 to 1.x read (2.x writes more).
    header = path.read_bytes()[:20]
    assert header[8:12] == b"DUCK" and int.from_bytes(header[12:20], "little") == 64


def test_export_json_round_trips_the_samples(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    sid = measured(s, [1.5, 2.5])
    out = tmp_path / "x.json"
    assert s.export(out, "json") == 9  # 3 runs (1 warmup) x 3 metrics
    rows = json.loads(out.read_text())
    assert sorted(r["value"] for r in rows if r["metric"] == "wall_time" and not r["warmup"]) \
        == [1.5, 2.5]
    assert {r["session_id"] for r in rows} == {sid}
