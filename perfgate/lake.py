"""The shared store: perfgate's Store over DuckLake (a catalog in Postgres, SQLite or a DuckDB
file; data as Parquet in a directory or on S3). With store.py, the only module with SQL.

Every read of Store works unchanged: the lake is attached as `lake` and made the default
database, so named queries and views see the same tables. Differences, and why:
* DuckLake has no sequences, indexes or key constraints: migrations are translated
  (for_lake) and ids are derived from each row's uid (lake_push.gid; a session's also from
  its start, session_gid), so every runner computes the same id for the same session and a
  push never needs to ask for one.
* Several runners may migrate at once: DuckLake refuses the second of two conflicting schema
  commits, so a migration that failed is retried after re-reading what is applied.
"""
from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from perfgate.errors import SharedStoreError, UsageError
from perfgate.lake_push import Pushing, utc_now
from perfgate.shared import INSTALL, SharedConfig, extension_file, other_builds, redact
from perfgate.store import Store, migrations, transaction

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


class SharedStore(Pushing, Store):
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

        version = duckdb.__version__
        files = {name: extension_file(name, version) for name in self.config.extensions()}
        # DuckDB checks an extension's signature on every LOAD by hashing the whole file: 0.35
        # of the 0.5 s a `perfgate history --shared` spent opening the lake. A file from an
        # installed wheel sits beside DuckDB's own library, which is loaded unchecked, so the
        # check adds no safety there; an extension loaded by name keeps it.
        packaged = all(files.values())
        con = duckdb.connect(config={"allow_unsigned_extensions": packaged})
        try:
            con.execute("SET enable_progress_bar = false")  # it draws on stdout, ours
            self._load_extensions(con, files)
            self._secret(con)
            target = self.config.attach_target().replace("'", "''")
            data = self.config.data.replace("'", "''")
            if not self.config.data.startswith("s3://"):
                Path(self.config.data).mkdir(parents=True, exist_ok=True)
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

    def _load_extensions(self, con: Any, files: dict[str, Path | None]) -> None:
        import duckdb

        version = duckdb.__version__
        for name, path in files.items():
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
            with transaction(con):
                yield con
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
                            [version, name, utc_now()])
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
