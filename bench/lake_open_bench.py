"""What opening the shared store costs a command, with and without DuckDB's signature check of
the extension files it loads.

Run: python bench/lake_open_bench.py [N]       (default 10; needs perfgate[shared], initdb, moto)

A small history (200 sessions) is pushed to a shared store whose catalog is PostgreSQL and whose
data is on moto's S3 server, both on 127.0.0.1. Then, alternating, N times each:
* `perfgate history --shared` as perfgate runs it (packaged extensions loaded unchecked), and
* the same command with DuckDB made to check every extension's signature (as before),
each its own process, as a user runs it; wall time. The same pairs give the ratio.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from _common import PY, machine  # noqa: E402
from big_store_bench import CONTRACT, build  # noqa: E402

from perfgate.store import Store  # noqa: E402

# The same entry point either way; "checked" only forces DuckDB's signature check back on.
RUN = ("import sys, duckdb\n"
       "if sys.argv.pop(1) == 'checked':\n"
       "    connect = duckdb.connect\n"
       "    def checked(*a, config=None, **k):\n"
       "        return connect(*a, config={**(config or {}), 'allow_unsigned_extensions': False},"
       " **k)\n"
       "    duckdb.connect = checked\n"
       "from perfgate.cli import main\n"
       "sys.argv[0] = 'perfgate'\n"
       "main()\n")


def once(variant: str, root: Path, env: dict) -> float:
    t = time.perf_counter()
    r = subprocess.run([PY, "-c", RUN, variant, "history", "--shared"], cwd=root, env=env,
                       capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{variant}: exit {r.returncode}: {r.stderr.strip()[-400:]}")
    return took


def main() -> None:
    import duckdb

    from tests import servers

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    pg, s3 = servers.Postgres(), servers.Moto()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "proj"
            (root / "contracts").mkdir(parents=True)
            (root / "contracts" / "work.yaml").write_text(CONTRACT)
            build(Store(root / ".perfgate" / "perfgate.duckdb"), 200 * 100)
            db, bucket = pg.new_database(), s3.new_bucket()
            env = {**os.environ, **s3.env(), "PERFGATE_SHARED_CATALOG": pg.catalog(db),
                   "PERFGATE_SHARED_DATA": f"s3://{bucket}/history"}
            subprocess.run([PY, "-m", "perfgate", "push"], cwd=root, env=env, check=True,
                           capture_output=True)
            once("unchecked", root, env)                      # first runs: caches warm
            once("checked", root, env)
            pairs = [(once("unchecked", root, env), once("checked", root, env))
                     for _ in range(n)]
    finally:
        pg.close()
        s3.close()
    new, old = zip(*pairs)
    print(f"machine: {machine()}; DuckDB {duckdb.__version__}; N = {n} alternated pairs; "
          f"catalog PostgreSQL {pg.bindir.parent.name}, data on moto S3, both on 127.0.0.1\n")
    print("| `perfgate history --shared` | median | min |\n|---|---|---|")
    print(f"| extensions from the wheels loaded unchecked (perfgate) | "
          f"{statistics.median(new):.3f} s | {min(new):.3f} s |")
    print(f"| every extension's signature checked (before) | "
          f"{statistics.median(old):.3f} s | {min(old):.3f} s |")
    print(f"\nratio (median of the pairs' ratios): "
          f"{statistics.median(a / b for a, b in pairs):.2f}")


if __name__ == "__main__":
    main()
