"""Reads that stay fast on a big store, and the columns a shared store needs (migrations 0005-0008)."""
import datetime as dt
import json
import random

import pytest

from perfgate import store as store_module
from perfgate.store import NewSession, Store, machine_of, migrations
from tests.test_store import Rec, measured

FP = {"host": "box", "cpu_model": "Some CPU", "cores": "2"}


def many(store: Store, n: int, *, seed: int = 0, fp: dict = FP, contract: str = "c") -> list[int]:
    rnd = random.Random(seed)
    t0 = dt.datetime(2024, 1, 1)
    return store.add_sessions([
        NewSession(contract, ("baseline", "candidate")[i % 2], f"{i:040x}", fp,
                   t0 + dt.timedelta(minutes=i),
                   [(j, j == 0, 0, {"wall_time": 1 + i / n + rnd.random() / 100})
                    for j in range(6)]) for i in range(n)])


def test_add_sessions_stores_what_add_run_stores(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    one = measured(s, [1.0, 2.0, 3.0, 4.0, 5.0])
    [two] = s.add_sessions([NewSession(
        "c", "baseline", "abc", {"host": "h"}, dt.datetime(2024, 1, 1),
        [(0, True, 0, Rec(99.0).metrics)] + [(i, False, 0, Rec(v).metrics)
                                             for i, v in enumerate([1.0, 2.0, 3.0, 4.0, 5.0], 1)])])
    assert s.summary(one) == s.summary(two)
    assert s.samples(one, "wall_time") == s.samples(two, "wall_time") == [1.0, 2.0, 3.0, 4.0, 5.0]
    rows = s.query("SELECT uid, machine, status FROM sessions ORDER BY id")[1]
    assert rows[0][0] != rows[1][0] and all(len(r[0]) == 36 for r in rows)
    assert rows[1][1:] == (machine_of({"host": "h"}), "complete")


def test_machine_backfilled_by_the_migration_matches_new_sessions(tmp_path, monkeypatch):
    old = [m for m in migrations() if m[0] < 5]  # before issue 17
    monkeypatch.setattr(store_module, "migrations", lambda: old)
    path = tmp_path / "p.duckdb"
    s = Store(path)
    with s._tx() as con:
        con.execute("INSERT INTO sessions (contract, role, fingerprint, host, started, status) "
                    "VALUES ('c', 'baseline', ?, 'box', now(), 'complete')", [json.dumps(FP)])
    monkeypatch.undo()
    monkeypatch.delenv("PERFGATE_MACHINE", raising=False)
    rows = Store(path).query("SELECT machine, uid FROM sessions")[1]
    assert rows[0][0] == machine_of(FP) and len(rows[0][1]) == 36
    monkeypatch.setenv("PERFGATE_MACHINE", "ci-large")
    assert machine_of(FP) == "ci-large/" + rows[0][0].split("/")[1]
    assert machine_of({**FP, "cpu_model": "Other"}).split("/")[1] != rows[0][0].split("/")[1]


def test_plot_draws_at_most_max_points_and_every_accepted_session(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    ids = many(s, 1000)
    s.record_decision(contract="c", base_session=ids[0], candidate_session=ids[1],
                      verdict="accepted", metric="wall_time")
    points = s.plot_series(metric="wall_time", contract="c", max_points=400)
    # every 3rd of 1000 sessions (k = 0, 3, ..., 999), and the accepted one (k = 1)
    assert len(points) == 334 + 1 and {p["step"] for p in points} == {3}
    assert [p["id"] for p in points if p["accepted"]] == [ids[1]]
    assert [p["id"] for p in points] == sorted(p["id"] for p in points)
    assert points[0]["median"] < points[-1]["median"]  # the trend is there
    assert all(p["lo"] <= p["q1"] <= p["median"] <= p["q3"] <= p["hi"] for p in points)
    assert points[10]["median"] == s.summary(points[10]["id"])["wall_time"].median
    few = s.plot_series(metric="wall_time", contract="c", max_points=5000)
    assert len(few) == 1000 and {p["step"] for p in few} == {1}


def test_plot_refuses_to_pool_machines(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    many(s, 4)
    many(s, 4, fp={**FP, "cpu_model": "Faster CPU"})
    with pytest.raises(store_module.UsageError, match="measured on 2 machines .* --machine"):
        s.plot_series(metric="wall_time", contract="c")
    assert len(s.plot_series(metric="wall_time", contract="c", machine=machine_of(FP))) == 4


def test_history_changes_are_per_machine_and_limited(tmp_path):
    s = Store(tmp_path / "p.duckdb")
    a = many(s, 30)
    b = many(s, 30, fp={**FP, "cpu_model": "Faster CPU"}, seed=1)
    columns, rows = s.history(metric="wall_time", contract="c", last=10)
    assert len(rows) == 10
    col = {c: i for i, c in enumerate(columns)}
    med = {sid: s.summary(sid)["wall_time"].median for sid in a + b}
    for row in rows:
        sid = row[col["session_id"]]
        own = a if sid in a else b
        prev = own[own.index(sid) - 1]
        assert row[col["change_pct"]] == pytest.approx(100 * (med[sid] - med[prev]) / med[prev])
    columns, rows = s.history(metric="wall_time", contract="c", last=100, machine=machine_of(FP))
    assert len(rows) == 30


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export_streams_and_counts(tmp_path, fmt):
    import duckdb

    s = Store(tmp_path / "p.duckdb")
    many(s, 50)
    out = tmp_path / f"x.{fmt}"
    assert s.export(out, fmt) == 50 * 6
    reader = {"csv": "read_csv_auto", "json": "read_json_auto", "parquet": "read_parquet"}[fmt]
    rows = duckdb.connect().execute(f"SELECT count(*), count(DISTINCT machine) FROM "
                                    f"{reader}('{out}')").fetchone()
    assert rows == (300, 1)
