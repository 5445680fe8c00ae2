"""The shared store on real servers: PostgreSQL as the DuckLake catalog, moto's S3 server for
the data, perfgate as a user runs it (real processes, real local stores)."""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perfgate import shared
from perfgate.errors import UsageError
from perfgate.lake import for_lake
from perfgate.lake_push import gid, session_gid
from perfgate.store import NewSession, Store, migrations
from perfgate.workspace import Project
from tests import servers
from tests.conftest import contract_yaml, perfgate

PY = sys.executable


def why_no_extra() -> str | None:
    import duckdb

    if shared.extension_file("ducklake", duckdb.__version__) is None:
        return (f"perfgate[shared] is not installed: DuckDB {duckdb.__version__} has no "
                "ducklake extension here (pip install -e '.[shared]')")
    return None


needs_extra = pytest.mark.skipif(why_no_extra() is not None, reason=str(why_no_extra()))


@pytest.fixture(scope="module")
def pg():
    why = servers.why_no_postgres()
    if why:
        pytest.skip(why)
    server = servers.Postgres()
    yield server
    server.close()


@pytest.fixture(scope="module")
def s3():
    why = servers.why_no_moto()
    if why:
        pytest.skip(why)
    server = servers.Moto()
    yield server
    server.close()


@pytest.fixture
def lake(pg, s3, monkeypatch):
    """A fresh catalog database and bucket, configured through the environment as CI does."""
    db, bucket = pg.new_database(), s3.new_bucket()
    env = {**s3.env(), "PERFGATE_SHARED_CATALOG": pg.catalog(db),
           "PERFGATE_SHARED_DATA": f"s3://{bucket}/history"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return {"db": db, "bucket": bucket, "env": {**os.environ, **env}}


def sessions(n: int, *, seed: int, host: str = "runner", cpu: str = "cpu-a",
             contract: str = "work", runs: int = 6, metrics: int = 2) -> list[NewSession]:
    rnd = random.Random(seed)
    start = dt.datetime(2024, 1, 1) + dt.timedelta(hours=seed)
    names = ["wall_time", "peak_rss"] + [f"m{k}" for k in range(metrics - 2)]
    return [NewSession(contract, ("baseline", "candidate")[i % 2], f"{seed:04d}{i:036d}",
                       {"host": host, "cpu_model": cpu, "cores": "2"},
                       start + dt.timedelta(minutes=i),
                       [(j, j == 0, 0, {m: rnd.uniform(1, 2) for m in names})
                        for j in range(runs)]) for i in range(n)]


def fill(root: Path, n: int, *, seed: int, decisions: bool = True, **kw) -> Store:
    store = Project(root).store()
    ids = store.add_sessions(sessions(n, seed=seed, **kw))
    for base, cand in zip(ids[::2], ids[1::2]) if decisions else ():
        cid = store.new_comparison("work", base, cand)
        store.record_decision(contract="work", comparison_id=cid, base_session=base,
                              candidate_session=cand, verdict="rejected", metric="wall_time",
                              reasons=["median improved 0.1%"])
    return store


CHECKSUMS = ("SELECT s.uid, count(*) AS n, md5(string_agg(m.metric || '=' || m.value::VARCHAR "
             "|| '@' || r.idx, ',' ORDER BY r.idx, m.metric)) AS digest "
             "FROM samples m JOIN runs r ON r.id = m.run_id JOIN sessions s ON s.id = m.session_id "
             "GROUP BY s.uid")


def checksums(store) -> dict[str, tuple]:
    return {uid: (n, digest) for uid, n, digest in store.query(CHECKSUMS)[1]}


# -- no server needed -----------------------------------------------------------------------

def test_every_migration_translates_for_ducklake():
    for version, _, sql in migrations():
        for stmt in for_lake(sql):
            upper = stmt.upper()
            assert "SEQUENCE" not in upper and "NEXTVAL" not in upper, (version, stmt)
            assert "PRIMARY KEY" not in upper and "CREATE INDEX" not in upper, (version, stmt)
            assert "GEN_RANDOM_UUID" not in upper, (version, stmt)


def test_shared_ids_are_the_same_in_python_and_sql(tmp_path):
    import duckdb

    from perfgate.lake_push import STAGE

    con = duckdb.connect()
    for sql in STAGE[:2]:  # the two macros
        con.execute(sql)
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    for key in ("3f2a-…", "a", "0" * 36):
        assert con.execute("SELECT gid(?)", [f"c:{key}"]).fetchone()[0] == gid("c", key)
        assert con.execute("SELECT sid(?, ?)", [key, when]).fetchone()[0] == \
            session_gid(key, when)
    # time-ordered: a later second is a larger id, whatever the uid
    assert session_gid("f" * 36, when) < session_gid("0" * 36, when + dt.timedelta(seconds=1))


def test_config_from_pyproject_perfgate_toml_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(shared.ENV_CATALOG, raising=False)
    monkeypatch.delenv(shared.ENV_DATA, raising=False)
    assert shared.load_config(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text(
        '[tool.perfgate.shared]\ncatalog = "sqlite:lake/catalog.sqlite"\ndata = "lake/data"\n')
    cfg = shared.load_config(tmp_path)
    assert cfg.catalog == f"sqlite:{tmp_path}/lake/catalog.sqlite" and cfg.kind == "sqlite"
    assert cfg.data == f"{tmp_path}/lake/data/" and cfg.extensions() == ["ducklake",
                                                                            "sqlite_scanner"]
    monkeypatch.setenv(shared.ENV_CATALOG, "postgres:dbname=perf host=db user=ci password=pw1234")
    monkeypatch.setenv(shared.ENV_DATA, "s3://bucket/prefix")
    cfg = shared.load_config(tmp_path)
    assert cfg.kind == "postgres" and cfg.extensions() == ["ducklake", "postgres_scanner",
                                                           "httpfs"]
    assert "connect_timeout=10" in cfg.attach_target() and "pw1234" not in cfg.describe()
    assert shared.redact("failed: password=pw1234 host=db") == "failed: password=*** host=db"


@pytest.mark.parametrize("text, message", [
    ('[tool.perfgate.shared]\ncatalog = "x.duckdb"\n',
     "shared store: data is not set (set pyproject.toml: tool.perfgate.shared.data or "
     "$PERFGATE_SHARED_DATA)"),
    ('[tool.perfgate.shared]\ncatalog = 3\ndata = "d"\n',
     "pyproject.toml: tool.perfgate.shared.catalog: must be a non-empty string"),
    ('[tool.perfgate.shared]\ncatalg = "x"\n',
     "pyproject.toml: tool.perfgate.shared.catalg: unknown key (expected catalog, data)"),
    ('[tool.perfgate.shared]\ncatalog = "x"\ndata = "gs://b/p"\n',
     "shared store: data must be a directory or s3://bucket/prefix, got gs://…"),
    ("[tool.perfgate\n", "pyproject.toml: not valid TOML"),
])
def test_bad_configuration_is_one_line(tmp_path, monkeypatch, text, message):
    monkeypatch.delenv(shared.ENV_CATALOG, raising=False)
    monkeypatch.delenv(shared.ENV_DATA, raising=False)
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(UsageError) as exc:
        shared.load_config(tmp_path)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_without_the_extra_a_command_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(shared, "MODULES", ("no_such_module_{name}",))
    (tmp_path / "perfgate.toml").write_text('[shared]\ncatalog = "c.duckdb"\ndata = "d"\n')
    monkeypatch.delenv(shared.ENV_CATALOG, raising=False)
    monkeypatch.delenv(shared.ENV_DATA, raising=False)
    with pytest.raises(UsageError, match=r"needs DuckDB's ducklake extension: .*"
                                          r"pip install 'perfgate\[shared\]'"):
        shared.open_store(Project(tmp_path)).query("SELECT 1")


def test_push_without_a_shared_store_says_how_to_configure(tmp_path, monkeypatch):
    monkeypatch.delenv(shared.ENV_CATALOG, raising=False)
    monkeypatch.delenv(shared.ENV_DATA, raising=False)
    r = perfgate("push", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "no shared store configured" in r.stderr and "PERFGATE_SHARED_CATALOG" in r.stderr
    assert shared.push_pending(Project(tmp_path)).message is None  # nothing configured: no-op


# -- a DuckDB file as the catalog, a directory for the data -------------------------------

@needs_extra
@pytest.mark.parametrize("catalog", ["{tmp}/team/catalog.duckdb", "sqlite:team/catalog.sqlite"])
def test_push_round_trip_with_a_file_catalog(tmp_path, monkeypatch, catalog):
    monkeypatch.delenv(shared.ENV_CATALOG, raising=False)
    monkeypatch.delenv(shared.ENV_DATA, raising=False)
    (tmp_path / "team").mkdir()
    (tmp_path / "perfgate.toml").write_text(
        f'[shared]\ncatalog = "{catalog.format(tmp=tmp_path)}"\ndata = "team/data"\n')
    local = fill(tmp_path, 12, seed=1)
    r = perfgate("push", "--batch", "5", cwd=tmp_path)
    assert r.returncode == 0 and "pushed 12 sessions (144 samples)" in r.stderr, r.stderr
    r = perfgate("push", cwd=tmp_path)
    assert r.returncode == 0 and "nothing new" in r.stderr
    team = shared.open_store(Project(tmp_path))
    assert checksums(team) == checksums(local)
    assert team.query("SELECT count(*), count(DISTINCT id) FROM decisions")[1] == [(6, 6)]
    # the decisions point at the shared ids of their sessions
    assert team.query("SELECT count(*) FROM v_decisions WHERE base_commit IS NULL")[1] == [(0,)]
    assert local.pending_push() == 0
    r = perfgate("sql", "--shared", "DELETE FROM decisions", cwd=tmp_path)
    assert r.returncode == 2 and "read-only" in r.stderr, r.stderr


# -- PostgreSQL + S3 ------------------------------------------------------------------------

PUSHER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from perfgate.workspace import Project
    from perfgate import shared
    from tests.test_shared import fill
    root, seed, start = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    fill(root, 25, seed=seed, host=f"runner-{seed}")
    time.sleep(max(0.0, start - time.time()))
    print(shared.push(Project(root), batch=5).message)
""")


@needs_extra
@pytest.mark.slow
def test_eight_runners_push_at_once(lake, tmp_path):
    start = time.time() + 8  # every pusher has built its local store by then
    procs = [subprocess.Popen([PY, "-c", PUSHER, str(tmp_path / f"r{i}"), str(i), str(start)],
                              cwd=Path(__file__).parent.parent, env=lake["env"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(8)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [e[-2000:] for _, e in outs]
    want: dict = {}
    for i in range(8):
        local = Store(tmp_path / f"r{i}" / ".perfgate" / "perfgate.duckdb")
        want.update(checksums(local))
        assert local.pending_push() == 0
    team = shared.open_store(Project(tmp_path))
    assert team.query("SELECT count(*), count(DISTINCT uid), count(DISTINCT id) "
                      "FROM sessions")[1] == [(200, 200, 200)]
    assert checksums(team) == want  # every sample of every session, once
    assert team.query("SELECT count(*), count(DISTINCT machine) FROM sessions")[1] == [(200, 8)]
    assert team.query("SELECT count(*) FROM decisions")[1] == [(8 * 12,)]  # 12 pairs each


def _push_killed(lake, s3, tmp_path, kill) -> tuple[subprocess.CompletedProcess, Store]:
    """A push of one big transaction; the moment its first data file (runs) has reached the
    object store, the server is frozen, `kill()` runs, and the push goes on into the wreck."""
    local = fill(tmp_path, 2000, seed=3, runs=20, metrics=8, decisions=False)
    seen = s3.log.stat().st_size
    proc = subprocess.Popen([PY, "-m", "perfgate", "push", "--batch", "100000"], cwd=tmp_path,
                            env=lake["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline, hit = time.monotonic() + 120, False
    while time.monotonic() < deadline and proc.poll() is None and not hit:
        with open(s3.log, "rb") as fh:
            fh.seek(seen)
            hit = f"PUT /{lake['bucket']}/history/main/runs/".encode() in fh.read()
        time.sleep(0.002)
    s3.signal(signal.SIGSTOP)
    with open(s3.log, "rb") as fh:
        fh.seek(seen)
        written = fh.read()
    assert hit and proc.poll() is None, "the push ended before it wrote its data"
    assert b"/main/samples/" not in written, "the samples were written before the kill"
    kill()
    out, err = proc.communicate(timeout=180)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), local


def _after_the_kill(r: subprocess.CompletedProcess, lake, tmp_path, local: Store) -> None:
    assert r.returncode == 3, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("Error: "), r.stderr
    assert servers.PG_PASSWORD not in r.stderr and servers.S3_SECRET not in r.stderr
    team = shared.open_store(Project(tmp_path))
    assert team.query("SELECT count(*) FROM sessions")[1] == [(0,)]  # nothing partial
    assert team.query("SELECT count(*) FROM runs")[1] == [(0,)]
    team.close()
    assert local.pending_push() == 2000
    r = perfgate("push", cwd=tmp_path, env=lake["env"])
    assert r.returncode == 0 and "pushed 2000 sessions (320000 samples)" in r.stderr, r.stderr
    assert checksums(shared.open_store(Project(tmp_path))) == checksums(local)
    assert local.pending_push() == 0


@needs_extra
@pytest.mark.slow
def test_catalog_killed_mid_push_nothing_partial_then_push_completes(lake, pg, s3, tmp_path):
    def kill():
        pg.stop("immediate")
        s3.signal(signal.SIGCONT)  # the push writes the rest of its data, then cannot commit

    r, local = _push_killed(lake, s3, tmp_path, kill)
    pg.start()
    _after_the_kill(r, lake, tmp_path, local)


@needs_extra
@pytest.mark.slow
def test_object_store_killed_mid_push_nothing_partial_then_push_completes(lake, s3, tmp_path):
    r, local = _push_killed(lake, s3, tmp_path, s3.kill)
    s3.start()  # moto keeps nothing across a restart: the bucket comes back empty
    s3.client().create_bucket(Bucket=lake["bucket"])
    _after_the_kill(r, lake, tmp_path, local)


MIGRATOR = textwrap.dedent("""
    import sys, time
    from perfgate import shared, lake
    cfg = shared.load_config(__import__("pathlib").Path(sys.argv[1]))
    retries = []
    sleep = time.sleep
    lake.time.sleep = lambda s: (retries.append(s), sleep(s))
    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
    store = lake.SharedStore(cfg)
    print(store.schema_version(), len(retries))
""")


@needs_extra
@pytest.mark.slow
def test_two_runners_migrate_a_new_store_at_once(pg, s3, tmp_path):
    retried = 0
    for _ in range(3):
        db, bucket = pg.new_database(), s3.new_bucket()
        env = {**os.environ, **s3.env(), "PERFGATE_SHARED_CATALOG": pg.catalog(db),
               "PERFGATE_SHARED_DATA": f"s3://{bucket}/h"}
        start = time.time() + 3
        procs = [subprocess.Popen([PY, "-c", MIGRATOR, str(tmp_path), str(start)], env=env,
                                  cwd=Path(__file__).parent.parent, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
        newest = max(v for v, _, _ in migrations())
        last = [o.strip().splitlines()[-1].split() for o, _ in outs]
        assert [int(v) for v, _ in last] == [newest, newest]
        retried += sum(int(n) for _, n in last)
        rows = pg.sql("SELECT count(*) FROM ducklake_table WHERE end_snapshot IS NULL", db)
        assert int(rows) >= 7  # sessions … hotspots, schema_migrations: each once
        versions = subprocess.run(
            [PY, "-m", "perfgate", "sql", "--shared", "--format", "json",
             "SELECT version, count(*) AS n FROM schema_migrations GROUP BY 1 ORDER BY 1"],
            env=env, cwd=tmp_path, capture_output=True, text=True)
        assert versions.returncode == 0, versions.stderr
        assert [(r["version"], r["n"]) for r in json.loads(versions.stdout)] == \
            [(v, 1) for v, _, _ in migrations()]
    assert retried > 0, "the two runners never collided: the test did not test the race"


@needs_extra
def test_secrets_never_reach_the_store_the_objects_or_the_output(lake, pg, s3, tmp_path):
    local = fill(tmp_path, 6, seed=5)
    r = perfgate("push", cwd=tmp_path, env=lake["env"])
    assert r.returncode == 0, r.stderr
    r2 = perfgate("history", "--shared", "--metric", "wall_time", cwd=tmp_path,
                  env=lake["env"])
    assert r2.returncode == 0 and "rejected" in r2.stdout, r2.stderr
    pg.stop("immediate")  # an unreachable catalog: its error quotes the connection string
    try:
        r3 = perfgate("push", cwd=tmp_path, env=lake["env"])
        pending = shared.push_pending(Project(tmp_path))
    finally:
        pg.start()
    assert r3.returncode == 3 and "cannot reach the shared store" in r3.stderr
    assert not pending.ok and pending.message.startswith("push pending: 0 sessions wait")
    haystacks = {"push output": r.stdout + r.stderr, "history": r2.stdout + r2.stderr,
                 "failed push": r3.stderr, "push_pending": pending.message,
                 "catalog dump": pg.dump(lake["db"])}
    haystacks.update({f"s3 {k}": v.decode("latin-1")
                      for k, v in s3.objects(lake["bucket"]).items()})
    for path in (tmp_path / ".perfgate").rglob("*"):
        if path.is_file():
            haystacks[str(path)] = path.read_bytes().decode("latin-1")
    assert any("s3 " in k for k in haystacks) and local.pending_push() == 0
    for secret in (servers.PG_PASSWORD, servers.S3_SECRET, servers.S3_KEY_ID):
        leaks = [k for k, text in haystacks.items() if secret in text]
        assert not leaks, f"{secret[:4]}… found in {leaks}"


@needs_extra
def test_history_and_plot_never_pool_machines(lake, tmp_path):
    fill(tmp_path / "a", 8, seed=7, host="runner", cpu="cpu-a")
    (tmp_path / "a" / "contracts").mkdir()
    (tmp_path / "a" / "contracts" / "work.yaml").write_text(contract_yaml())
    fill(tmp_path / "b", 8, seed=8, host="runner", cpu="cpu-b")  # same name, other hardware
    for name in ("a", "b"):
        assert perfgate("push", cwd=tmp_path / name, env=lake["env"]).returncode == 0
    team = shared.open_store(Project(tmp_path))
    columns, rows = team.history(metric="wall_time", contract="work", last=16)
    machines = {r[columns.index("machine")] for r in rows}
    assert len(machines) == 2 and all(m.startswith("runner/") for m in machines)
    # each change is against the previous session of the same machine
    by_id = {r[columns.index("session_id")]: r for r in rows}
    for row in rows:
        same = [r for r in by_id.values() if r[2] == row[2] and r[0] < row[0]]
        if same and row[columns.index("change_pct")] is not None:
            prev = max(same, key=lambda r: r[0])
            want = 100 * (row[6] - prev[6]) / abs(prev[6])
            assert row[columns.index("change_pct")] == pytest.approx(want)
    r = perfgate("plot", "work", "--metric", "wall_time", "--shared", "-o", str(tmp_path / "p.png"),
                 cwd=tmp_path / "a", env=lake["env"])
    assert r.returncode == 2 and "measured on 2 machines" in r.stderr and "--machine" in r.stderr
    one = sorted(machines)[0]
    r = perfgate("plot", "work", "--metric", "wall_time", "--shared", "--machine", one, "-o",
                 str(tmp_path / "p.png"), cwd=tmp_path / "a", env=lake["env"])
    assert r.returncode == 0 and "(8 sessions)" in r.stderr, r.stderr
