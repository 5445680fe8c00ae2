"""Time of the gate's numbers on a big store: SQL over 100k samples plus decide().

Run: python bench/decide_bench.py [SAMPLES]   (default 100000)
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine  # noqa: E402

from perfgate.contract import from_mapping  # noqa: E402
from perfgate.gate import Samples, decide  # noqa: E402
from perfgate.store import Store  # noqa: E402

CONTRACT = from_mapping({
    "name": "b", "domain": "cli_startup", "repro": {"script": "x", "measurement_runs": 5},
    "metrics": {"primary": {"name": "wall_time"},
                "watchdogs": [{"name": "peak_rss", "max_regression_pct": 10}]}}, "bench")


def fill(store: Store, total: int) -> tuple[int, int]:
    """`total` samples spread over sessions of 3 metrics x 5 runs; returns the last two ids."""
    sessions = total // 15
    with store._tx() as con:
        con.execute("INSERT INTO sessions (id, contract, role, started, status) "
                    "SELECT i, 'b', CASE WHEN i % 2 = 0 THEN 'baseline' ELSE 'candidate' END, "
                    "now(), 'complete' FROM range(1, ?) t(i)", [sessions + 1])
        con.execute("INSERT INTO runs (id, session_id, idx, warmup, exit_code, started) "
                    "SELECT i, 1 + (i - 1) // 5, (i - 1) % 5, false, 0, now() "
                    "FROM range(1, ?) t(i)", [sessions * 5 + 1])
        con.execute("INSERT INTO samples SELECT r.id, r.session_id, m.metric, "
                    "1.0 + random() * 0.05 FROM runs r, (VALUES ('wall_time'), ('cpu_time'), "
                    "('peak_rss')) m(metric)")
        n = con.execute("SELECT count(*) FROM samples").fetchone()[0]
    return sessions - 1, sessions, n


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "p.duckdb")
        base, cand, n = fill(store, total)
        times = []
        for _ in range(6):
            t = time.perf_counter()
            names = ["wall_time", "peak_rss"]
            b = Samples({m: store.samples(base, m) for m in names})
            c = Samples({m: store.samples(cand, m) for m in names})
            summaries = (store.summary(base), store.summary(cand))
            verdict = decide(b, c, CONTRACT)
            times.append(time.perf_counter() - t)
        assert summaries and verdict.verdict in ("accepted", "rejected")
    print(f"machine: {machine()}; store with {n} samples; 1 cold + 5 warm repetitions\n")
    print("| what | median | max | target |\n|---|---|---|---|")
    print(f"| SQL (samples + summaries of 2 sessions) + decide(), warm | "
          f"{statistics.median(times[1:]):.3f} s | {max(times[1:]):.3f} s | ≤ 0.5 s |")
    print(f"| the same, first call (imports scipy and duckdb) | {times[0]:.3f} s | – | – |")


if __name__ == "__main__":
    main()
