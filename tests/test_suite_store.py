"""The store with suites: migration 0004 on a store made before it, samples per benchmark,
and the single-repro reads untouched by a suite's rows."""
from __future__ import annotations

import duckdb

from perfgate import store as store_mod
from tests.test_suite_gate import invocation


def test_0004_upgrades_a_store_made_before_suites(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    old = [m for m in store_mod.migrations() if m[0] < 4]
    monkeypatch.setattr(store_mod, "migrations", lambda: old)
    store_mod.Store(path).abort_stale()   # a store at migration 0003
    con = duckdb.connect(str(path))   # a session and a run as perfgate wrote them before 0004
    sid = con.execute("INSERT INTO sessions (contract, role, started, status) "
                      "VALUES ('c', 'baseline', now(), 'complete') RETURNING id").fetchone()[0]
    con.execute("INSERT INTO runs (session_id, idx, warmup, exit_code, started) "
                "VALUES (?, 0, false, 0, now())", [sid])
    con.execute("INSERT INTO samples VALUES ((SELECT max(id) FROM runs), ?, 'wall_time', 0)",
                [sid])
    con.close()
    monkeypatch.undo()
    s = store_mod.Store(path)
    assert s.values([sid], ["wall_time"])[sid]["wall_time"] == [0]
    _, rows = s.query("SELECT version FROM schema_migrations ORDER BY version")
    assert [r[0] for r in rows][-1] >= 4
    _, rows = s.query("SELECT benchmark FROM samples")
    assert {r[0] for r in rows} == {None}


def test_suite_rows_stay_out_of_the_single_repro_reads(tmp_path):
    s = store_mod.Store(tmp_path / "s.duckdb")
    sid = s.begin_session(contract="c", role="candidate")
    s.add_runs([(sid, i, invocation({"a": 1.0 + i, "b": 2.0}), False) for i in range(3)],
               finish={sid: "complete"})
    # The invocation as a whole: three samples of wall_time, as three runs of one repro.
    assert s.samples(sid, "wall_time") == [3.0, 4.0, 5.0]
    assert s.summary(sid)["wall_time"].n == 3
    per = s.suite_values([sid], ["time"])[sid]
    assert per == {"a": {"time": [1.0, 2.0, 3.0]}, "b": {"time": [2.0, 2.0, 2.0]}}
    _, rows = s.query("SELECT benchmark, n, median FROM v_session_stats WHERE metric = 'time' "
                      "ORDER BY benchmark")
    assert rows == [("a", 3, 2.0), ("b", 3, 2.0)]
    _, rows = s.query("SELECT count(*), max(point) FROM v_points WHERE benchmark = 'a'")
    assert rows == [(6, 1)]
    # Plain SQL with DuckDB itself, as a user would.
    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM samples WHERE benchmark IS NOT NULL").fetchone() \
        == (6,)
    con.close()


def test_the_loop_aims_at_the_target_the_primary_or_the_slowest(tmp_path):
    from perfgate import contract as contract_mod
    from perfgate.suites import focus

    s = store_mod.Store(tmp_path / "s.duckdb")
    sid = s.begin_session(contract="c", role="baseline")
    s.add_runs([(sid, i, invocation({"a": 1.0, "b": 3.0, "c": 2.0}), False) for i in range(3)],
               finish={sid: "complete"})

    def make(**suite):
        return contract_mod.from_mapping(
            {"name": "c", "domain": "cli_startup",
             "suite": {"format": "hyperfine", "command": "hyperfine --export-json {output} x",
                       **suite}}, "c.yaml")

    assert focus.targets(make(), s, sid) == ["b"]                    # the slowest
    assert focus.targets(make(primary="c"), s, sid) == ["c"]
    assert focus.targets(make(target=["a", "c"]), s, sid) == ["a", "c"]
    assert focus.targets(make(exclude=["b"]), s, sid) == ["c"]
    c = make()
    assert focus.fill("py-spy record -o p -- {script} -k {benchmark}", c, "b") == \
        "py-spy record -o p -- hyperfine --export-json /dev/null x -k b"
    assert focus.goal(c, ["b"]).startswith("Make `b` faster (benchmark of the suite; the gate's "
                                           "primary is the geometric mean of every benchmark)")
