"""The store's side of bisect and detect (migration 0010), on a real DuckDB file."""
from __future__ import annotations

from perfgate.store import Store
from tests.test_gate_loop import record


def sessions(store, role, trees, digest="d"):
    ids = store.begin_sessions([{"contract": "c", "role": role, "commit_sha": f"c-{t}",
                                 "tree_sha": t, "contract_digest": digest} for t in trees])
    store.add_runs([(sid, i, record(1.0 + i), False) for sid in ids for i in range(3)],
                   finish={sid: "complete" for sid in ids})
    return ids


def test_pairs_measured_together_are_found_both_ways(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    a, b, c = sessions(store, "bisect", ["ta", "tb", "tc"])
    store.tag_bisection(1, 1, [(a, "c-ta", 0), (b, "c-tb", 5)])
    store.tag_bisection(1, 2, [(c, "c-tc", 9)])
    assert store.measured_together("d", "ta", "tb") == (a, b)
    assert store.measured_together("d", "tb", "ta") == (b, a)
    assert store.measured_together("d", "ta", "tc") is None       # different steps
    assert store.measured_together("other", "ta", "tb") is None   # another contract digest
    x, y = sessions(store, "baseline", ["tx", "ty"])
    cid = store.new_comparison("c", x, y)
    assert cid and store.measured_together("d", "ty", "tx") == (y, x)
    # A calibration's sides may run a slowed copy of the repro: never reused.
    p, q = sessions(store, "calibration", ["tz", "tz"])
    store.new_comparison("c", p, q)
    assert store.measured_together("d", "tz", "tz") is None
    assert store.bisection_runs(1) == (9, 0) and store.last_bisection_step(1) == 2


def test_commit_samples_skip_calibration(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    sessions(store, "bisect", ["t1"])
    sessions(store, "calibration", ["t1"])
    rows = store.commit_samples("c", "wall_time", ["c-t1"])
    assert [(r[0], r[1], r[3]) for r in rows] == [("c-t1", "t1", 1.0), ("c-t1", "t1", 2.0),
                                                  ("c-t1", "t1", 3.0)]
