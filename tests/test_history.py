"""History over a real store made by the demo: the README's SQL, history, plot, export."""
import json
import re
import struct
from pathlib import Path

import duckdb
import pytest

from tests.conftest import perfgate

README = Path(__file__).parent.parent / "README.md"


@pytest.fixture
def demo(demo_run):
    root, r = demo_run
    assert r.returncode == 0, r.stderr
    return root


def readme_queries():
    block = re.search(r"## Querying history.*?```sql\n(.*?)```", README.read_text(), re.S)[1]
    return [q.strip() for q in re.split(r";\s*\n", block) if q.strip()]


def test_the_readme_has_five_queries():
    assert len(readme_queries()) == 5


@pytest.mark.slow
@pytest.mark.parametrize("index", range(5))
def test_readme_queries_run_against_a_real_store(demo, index):
    query = readme_queries()[index]
    r = perfgate("sql", "--format", "json", "--", query, cwd=demo)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows, f"query {index + 1} returned nothing"
    if index == 1:
        assert all(row["reasons"] for row in rows)
    if index == 3:
        assert rows[0]["gain_pct"] > 20


@pytest.mark.slow
def test_sql_refuses_writes(demo):
    r = perfgate("sql", "DELETE FROM decisions", cwd=demo)
    assert r.returncode == 2 and "read-only" in r.stderr


@pytest.mark.slow
def test_history_lines(demo):
    r = perfgate("history", "demo", "--last", "3", cwd=demo)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["date", "contract", "commit"] and len(lines) == 5
    assert "accepted" in r.stdout


@pytest.mark.slow
def test_plot_writes_a_png_of_the_expected_size(demo, tmp_path):
    out = tmp_path / "h.png"
    r = perfgate("plot", "demo", "-o", str(out), cwd=demo)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (800, 400)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_export_round_trips(demo, tmp_path, fmt):
    out = tmp_path / f"samples.{fmt}"
    r = perfgate("export", "--format", fmt, "-o", str(out), cwd=demo)
    assert r.returncode == 0, r.stderr
    con = duckdb.connect()
    reader = {"csv": "read_csv_auto", "parquet": "read_parquet", "json": "read_json_auto"}[fmt]
    got = con.execute(f"SELECT run_id, metric, value FROM {reader}('{out}') "
                      "ORDER BY run_id, metric").fetchall()
    store = duckdb.connect(str(demo / ".perfgate" / "perfgate.duckdb"), read_only=True)
    want = store.execute("SELECT run_id, metric, value FROM samples ORDER BY run_id, metric"
                         ).fetchall()
    assert len(got) == len(want) > 50
    assert [(a, b) for a, b, _ in got] == [(a, b) for a, b, _ in want]
    assert all(abs(x[2] - y[2]) <= 1e-9 * max(1, abs(y[2])) for x, y in zip(got, want))
