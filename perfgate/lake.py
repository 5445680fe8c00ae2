"""The shared store: perfgate's Store over DuckLake (a catalog in Postgres, SQLite or a DuckDB
file; data as Parquet in a directory or on S3). With store.py, the only module with SQL.

Every read of Store works unchanged: the lake is attached as `lake` and made the default
database, so named queries and views see the same tables. Differences, and why:
* DuckLake has no sequences, indexes or key constraints: migrations are translated
  (for_lake) and ids are derived from each row's uid (gid; a session's also from its start,
  session_gid), so every runner computes the same id for the same session and a push never
  needs to ask for one.
* Several runners may migrate at once: DuckLake refuses the second of two conflicting schema
  commits, so a migration that failed is retried after re-reading what is applied.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from perfgate.errors import SharedStoreError, StoreBusy, UsageError
from perfgate.shared import INSTALL, SharedConfig, extension_file, other_builds, redact
from perfgate.store import _LOCK, Store, migrations

# Statements with no DuckLake equivalent: speed-ups of the local file, not schema.
_LOCAL_ONLY = re.compile(r"^\s*(CREATE\s+(UNIQUE\s+)?INDEX|DROP\s+INDEX|CREATE\s+SEQUENCE|"
                         r"DROP\s+SEQUENCE)\b", re.IGNORECASE)
_DEFAULT_EXPR = re.compile(r"\s+DEFAULT\s+(nextval\s*\([^)]*\)|\((?:[^()]|\([^()]*\))*\))",
                           re.IGNORECASE)
_CONSTRAINT = re.compile(r"\s+(PRIMARY\s+KEY|UNIQUE)\b", re.IGNORECASE)
MIGRATION_RETRIES = 20


def for_lake(sql: str) -> list[str]:
    """A migration's statements as DuckLake takes them: no sequences or indexes, no key
    constraints, no computed defaults (a push always sets ids and uids)."""
    text = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    out = []
    for stmt in text.split(";"):
        if not stmt.strip() or _LOCAL_ONLY.match(stmt):
            continue
        out.append(_CONSTRAINT.sub("", _DEFAULT_EXPR.sub("", stmt)).strip())
    return out


def gid(kind: str, key: str) -> int:
    """The shared id of a row: 60 bits of md5(kind:key), as the push computes it in SQL."""
    import hashlib

    return int(hashlib.md5(f"{kind}:{key}".encode()).hexdigest()[:15], 16)


def session_gid(uid: str, started: dt.datetime) -> int:
    """A session's shared id: its start second, then 20 bits of md5(s:uid). Time-ordered, so
    the Parquet files' min/max of session_id let a query of recent sessions skip old files
    (a pure hash would spread every file over the whole range)."""
    import hashlib

    second = int((started - dt.datetime(1970, 1, 1)).total_seconds() // 1)
    return (second << 20) + int(hashlib.md5(f"s:{uid}".encode()).hexdigest()[:5], 16)


class SharedStore(Store):
    """The team's store. Reads as Store; written only by push_from()."""

    def __init__(self, config: SharedConfig, busy_timeout_s: float = 30) -> None:
        self.config = config
        self.busy_timeout_s = busy_timeout_s
        self._migrated = False
        self._cons: dict[bool, Any] = {}

    @property
    def name(self) -> str:
        return f"shared store ({self.config.describe()})"

    @property
    def path(self):  # the local-file checks of Store do not apply
        raise AttributeError("a shared store has no local path")

    def _redact(self, text: str) -> str:
        return redact(text)

    # -- connections ----------------------------------------------------------------------

    def _connect(self, read_only: bool = False):
        import duckdb

        con = duckdb.connect()
        try:
            con.execute("SET enable_progress_bar = false")  # it draws on stdout, ours
            self._load_extensions(con)
            self._secret(con)
            target = self.config.attach_target().replace("'", "''")
            data = self.config.data.replace("'", "''")
            if not self.config.data.startswith("s3://"):
                import pathlib

                pathlib.Path(self.config.data).mkdir(parents=True, exist_ok=True)
            options = f"DATA_PATH '{data}'" + (", READ_ONLY" if read_only else "")
            for attempt in range(5):
                try:
                    con.execute(f"ATTACH 'ducklake:{target}' AS lake ({options})")
                    break
                except duckdb.Error as exc:
                    # Runners attaching a new catalog at once race to create its tables.
                    if attempt == 4 or not re.search(r"already exists|duplicate key|conflict",
                                                     str(exc), re.IGNORECASE):
                        raise
                    time.sleep(0.2 + random.random())
            con.execute("USE lake")
            return con
        except duckdb.Error as exc:
            con.close()
            raise SharedStoreError(f"cannot reach the shared store ({self.config.describe()}): "
                                   f"{redact(str(exc).splitlines()[0])}") from None

    def _load_extensions(self, con: Any) -> None:
        import duckdb

        version = duckdb.__version__
        for name in self.config.extensions():
            path = extension_file(name, version)
            try:
                con.execute(f"LOAD '{path}'" if path else f"LOAD {name}")
            except duckdb.Error:
                builds = other_builds(name)
                why = (f"the installed {name} extension is built for DuckDB "
                       f"{', '.join(builds)}, this is DuckDB {version}" if builds else
                       f"DuckDB {version} has no {name} extension here")
                raise UsageError(f"the shared store needs DuckDB's {name} extension: {why}; "
                                 f"{INSTALL} installs a matching pair") from None
        if "httpfs" in self.config.extensions():
            # A dead object store fails a push in seconds, not after minutes of retries.
            con.execute("SET http_timeout = 15")
            con.execute("SET http_retries = 2")

    def _secret(self, con: Any) -> None:
        """S3 credentials from the AWS_* variables into a temporary (in-memory) secret:
        never persisted, never in the catalog."""
        import os

        if not self.config.data.startswith("s3://"):
            return

        def lit(v: str) -> str:
            return "'" + v.replace("'", "''") + "'"

        opts = ["TYPE s3"]
        for env, key in (("AWS_ACCESS_KEY_ID", "KEY_ID"), ("AWS_SECRET_ACCESS_KEY", "SECRET"),
                         ("AWS_SESSION_TOKEN", "SESSION_TOKEN")):
            if os.environ.get(env):
                opts.append(f"{key} {lit(os.environ[env])}")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            opts.append(f"REGION {lit(region)}")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            scheme, _, host = endpoint.rpartition("://")
            opts += [f"ENDPOINT {lit(host.rstrip('/'))}", "URL_STYLE 'path'",
                     f"USE_SSL {'false' if scheme == 'http' else 'true'}"]
        con.execute(f"CREATE OR REPLACE TEMPORARY SECRET perfgate_s3 ({', '.join(opts)})")

    # One connection per mode for the life of the store: loading the extensions and
    # attaching the catalog cost most of a second, the queries themselves milliseconds.
    def _con(self, read_only: bool) -> Any:
        con = self._cons.get(read_only)
        if con is None:
            con = self._cons[read_only] = self._connect(read_only)
        return con

    def close(self) -> None:
        for con in self._cons.values():
            con.close()
        self._cons.clear()

    def _drop(self, read_only: bool) -> None:
        con = self._cons.pop(read_only, None)
        if con is not None:
            with contextlib.suppress(Exception):
                con.close()

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        import duckdb

        con = self._con(True)
        if not self._migrated:
            have: set[int] = set()
            with contextlib.suppress(duckdb.CatalogException):
                have = {r[0] for r in con.execute(
                    "SELECT version FROM schema_migrations").fetchall()}
            if not {v for v, _, _ in migrations()} <= have:
                with self._tx():
                    pass  # migrated on a writable connection; read the new schema afresh
                self._drop(True)
                con = self._con(True)
            self._migrated = True
        try:
            yield con
        except duckdb.Error:
            self._drop(True)
            raise

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        import duckdb

        con = self._con(False)
        try:
            if not self._migrated:
                self._migrate(con)
            con.execute("BEGIN")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
        except duckdb.Error as exc:
            self._drop(False)
            raise SharedStoreError(f"shared store ({self.config.describe()}): "
                                   f"{redact(str(exc).splitlines()[0])}") from None

    def _migrate(self, con: Any) -> None:
        """Apply pending migrations, each in one transaction with its bookkeeping row. A
        runner that loses a race (another committed the same change first) rolls back,
        re-reads what is applied, and goes on from there."""
        import duckdb

        known = migrations()
        newest = max(v for v, _, _ in known)
        for attempt in range(MIGRATION_RETRIES):
            have: set[int] = set()
            with contextlib.suppress(duckdb.CatalogException):
                have = {r[0] for r in con.execute(
                    "SELECT version FROM schema_migrations").fetchall()}
            if have and max(have) > newest:
                raise UsageError(f"{self.name}: schema version {max(have)} is newer than this "
                                 f"perfgate ({newest}); upgrade perfgate")
            pending = [m for m in known if m[0] not in have]
            if not pending:
                self._migrated = True
                return
            version, name, sql = pending[0]
            try:
                con.execute("BEGIN")
                con.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                            "(version INTEGER NOT NULL, name VARCHAR, applied TIMESTAMP)")
                for stmt in for_lake(sql):
                    con.execute(stmt)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                            [version, name, _now()])
                # Two runners' appends never conflict in DuckLake, and a migration that only
                # updates rows would be applied (and recorded) twice: altering the one table
                # every migration touches makes the second commit fail, and that runner retry.
                con.execute(f"COMMENT ON TABLE schema_migrations IS "
                            f"'perfgate schema version {int(version)}'")
                con.execute("COMMIT")
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                if attempt == MIGRATION_RETRIES - 1:
                    raise SharedStoreError(f"{self.name}: migration {version} failed: "
                                           f"{redact(str(exc).splitlines()[0])}") from None
                time.sleep(0.05 + random.random() * 0.3)
        raise SharedStoreError(f"{self.name}: migrations did not settle")  # pragma: no cover

    # -- push -----------------------------------------------------------------------------

    def push_from(self, local: Store, *, batch: int = 1000) -> tuple[int, int, int]:
        """One atomic transaction: up to `batch` finished sessions of `local` not yet pushed,
        with their runs and samples, and the comparisons, decisions, calibrations and hotspots
        whose sessions are (or are now) in the shared store. Returns (sessions sent, sessions
        found already there, samples sent); then marks them pushed in `local`."""
        import duckdb

        local.schema_version()  # the local file is migrated (uid columns) before we read it
        con = self._con(False)
        try:
            if not self._migrated:
                self._migrate(con)
            self._stage(con, local, batch)
            # Everything staged is marked pushed afterwards, what was already there included.
            uids = {t: [r[0] for r in con.execute(f"SELECT uid FROM temp.p_{t}").fetchall()]
                    for t in ("sessions", "comparisons", "decisions", "calibrations",
                              "hotspots")}
            now = _now()
            try:
                con.execute("BEGIN")
                present = self._drop_present(con)
                for sql in PUSH_INSERTS:
                    con.execute(sql, [now] if "?" in sql else [])
                con.execute("COMMIT")
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise SharedStoreError(f"push pending: the shared store refused the push "
                                       f"({self.config.describe()}): "
                                       f"{redact(str(exc).splitlines()[0])}") from None
            sent = con.execute("SELECT count(*) FROM temp.p_sessions").fetchone()[0]
            samples = con.execute("SELECT count(*) FROM temp.p_samples").fetchone()[0]
        except BaseException:
            self._drop(False)  # a connection that failed mid-push is not reused
            raise
        local.mark_pushed(uids, now)
        return sent, present, samples

    def _stage(self, con: Any, local: Store, batch: int) -> None:
        """Copy the batch from the local file into temporary tables, holding its lock only
        for the copy (a gate on this machine waits milliseconds, not for the network)."""
        import os

        import duckdb

        quoted = str(local.path).replace("'", "''")
        delay, deadline = 0.05, time.monotonic() + local.busy_timeout_s
        fd = local._lock(deadline)  # perfgate's own lock, as every local open holds it
        try:
            self._attach_local(con, quoted, deadline, delay, local)
            for sql in STAGE:
                con.execute(sql, [batch] if "?" in sql else [])
        finally:
            with contextlib.suppress(duckdb.Error):
                con.execute("DETACH loc")
            os.close(fd)

    @staticmethod
    def _attach_local(con: Any, quoted: str, deadline: float, delay: float, local: Store) -> None:
        import duckdb

        while True:
            try:
                con.execute(f"ATTACH '{quoted}' AS loc (READ_ONLY)")
                break
            except duckdb.Error as exc:
                if not _LOCK.search(str(exc)) or time.monotonic() > deadline:
                    if _LOCK.search(str(exc)):
                        raise StoreBusy(f"store busy: {local.path} is locked by another "
                                        "perfgate process; push again when it finishes") from None
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _drop_present(self, con: Any) -> int:
        """Rows a previous push already delivered (it died before marking them here) are
        not sent again: a session is never in the shared store twice."""
        present = con.execute("SELECT count(*) FROM temp.p_sessions WHERE uid IN "
                              "(SELECT uid FROM sessions)").fetchone()[0]
        for table in ("sessions", "comparisons", "decisions", "calibrations", "hotspots"):
            con.execute(f"DELETE FROM temp.p_{table} WHERE uid IN (SELECT uid FROM {table})")
        con.execute("DELETE FROM temp.p_runs WHERE session_id NOT IN "
                    "(SELECT id FROM temp.p_sessions)")
        con.execute("DELETE FROM temp.p_samples WHERE session_id NOT IN "
                    "(SELECT id FROM temp.p_sessions)")
        return present


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# Staging: the batch, read from the attached local file `loc` into temp tables.
STAGE = [
    "CREATE OR REPLACE TEMP MACRO gid(k) AS ('0x' || substr(md5(k), 1, 15))::BIGINT",
    "CREATE OR REPLACE TEMP MACRO sid(uid, started) AS "
    "(floor(epoch(started))::BIGINT << 20) + ('0x' || substr(md5('s:' || uid), 1, 5))::BIGINT",
    "CREATE OR REPLACE TEMP TABLE p_sessions AS SELECT * FROM loc.sessions "
    "WHERE pushed IS NULL AND status <> 'running' ORDER BY id LIMIT ?",
    "CREATE OR REPLACE TEMP TABLE p_runs AS SELECT r.* FROM loc.runs r "
    "WHERE r.session_id IN (SELECT id FROM temp.p_sessions)",
    "CREATE OR REPLACE TEMP TABLE p_samples AS SELECT m.* FROM loc.samples m "
    "WHERE m.session_id IN (SELECT id FROM temp.p_sessions)",
    "CREATE OR REPLACE TEMP TABLE smap AS SELECT id, uid, started FROM loc.sessions",
    "CREATE OR REPLACE TEMP TABLE cmap AS SELECT id, uid FROM loc.comparisons",
    # A session may be referred to once it is in the shared store, or goes there now.
    "CREATE OR REPLACE TEMP TABLE ok AS SELECT id FROM loc.sessions WHERE pushed IS NOT NULL "
    "UNION ALL SELECT id FROM temp.p_sessions",
    "CREATE OR REPLACE TEMP TABLE p_comparisons AS SELECT * FROM loc.comparisons "
    "WHERE pushed IS NULL AND (base_session IS NULL OR base_session IN (SELECT id FROM temp.ok)) "
    "AND (candidate_session IS NULL OR candidate_session IN (SELECT id FROM temp.ok))",
    "CREATE OR REPLACE TEMP TABLE p_decisions AS SELECT * FROM loc.decisions "
    "WHERE pushed IS NULL AND (base_session IS NULL OR base_session IN (SELECT id FROM temp.ok)) "
    "AND (candidate_session IS NULL OR candidate_session IN (SELECT id FROM temp.ok))",
    "CREATE OR REPLACE TEMP TABLE p_calibrations AS SELECT * FROM loc.calibrations "
    "WHERE pushed IS NULL",
    "CREATE OR REPLACE TEMP TABLE p_hotspots AS SELECT * FROM loc.hotspots WHERE pushed IS NULL",
]

# The write, inside one transaction: local ids become shared ids derived from uids.
PUSH_INSERTS = [
    "INSERT INTO sessions BY NAME SELECT p.* REPLACE (sid(p.uid, p.started) AS id, "
    "gid('c:' || c.uid) AS comparison_id, ?::TIMESTAMP AS pushed) "
    "FROM temp.p_sessions p LEFT JOIN temp.cmap c ON c.id = p.comparison_id",
    "INSERT INTO runs BY NAME SELECT r.* REPLACE (gid('r:' || s.uid || ':' || r.id) AS id, "
    "sid(s.uid, s.started) AS session_id) FROM temp.p_runs r JOIN temp.p_sessions s "
    "ON s.id = r.session_id",
    "INSERT INTO samples BY NAME SELECT m.* REPLACE (gid('r:' || s.uid || ':' || m.run_id) "
    "AS run_id, sid(s.uid, s.started) AS session_id) FROM temp.p_samples m "
    "JOIN temp.p_sessions s ON s.id = m.session_id",
    "INSERT INTO comparisons BY NAME SELECT c.* REPLACE (gid('c:' || c.uid) AS id, "
    "sid(b.uid, b.started) AS base_session, sid(k.uid, k.started) AS candidate_session, "
    "?::TIMESTAMP AS pushed) FROM temp.p_comparisons c LEFT JOIN temp.smap b "
    "ON b.id = c.base_session LEFT JOIN temp.smap k ON k.id = c.candidate_session",
    "INSERT INTO decisions BY NAME SELECT d.* REPLACE (gid('d:' || d.uid) AS id, "
    "gid('c:' || c.uid) AS comparison_id, sid(b.uid, b.started) AS base_session, "
    "sid(k.uid, k.started) AS candidate_session, ?::TIMESTAMP AS pushed) "
    "FROM temp.p_decisions d LEFT JOIN temp.cmap c ON c.id = d.comparison_id "
    "LEFT JOIN temp.smap b ON b.id = d.base_session "
    "LEFT JOIN temp.smap k ON k.id = d.candidate_session",
    "INSERT INTO calibrations BY NAME SELECT k.* REPLACE (gid('k:' || k.uid) AS id, "
    "?::TIMESTAMP AS pushed) FROM temp.p_calibrations k",
    "INSERT INTO hotspots BY NAME SELECT h.* REPLACE (gid('h:' || h.uid) AS id, "
    "?::TIMESTAMP AS pushed) FROM temp.p_hotspots h",
]
