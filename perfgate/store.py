"""The DuckDB store: with store_common.py, store_reads.py and store_records.py, the only
modules with SQL.

Files are written with DuckDB's `storage_compatibility_version = 'v1.0.0'` (storage format 64,
the one DuckDB 0.10 to 1.x read), so the DuckDB 1.x CLI (`duckdb .perfgate/perfgate.duckdb`)
can read a store written by the 2.x library; a default 2.x file is refused by 1.x.
DuckDB allows one writing process per file: a second opener gets a lock error, which we retry
with backoff until `busy_timeout_s`, then report as "store busy".
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from perfgate import proctree
from perfgate.errors import StoreBusy, UsageError
from perfgate.store_common import (  # noqa: F401  (re-exported: callers say store.NewSession)
    _LOCK,
    DECISION_COLUMNS,
    PUSHED_TABLES,
    ROLES,
    STATUSES,
    STORAGE_VERSION,
    UNUSABLE,
    NewSession,
    _no_pandas_lookups,
    _now,
    machine_of,
    migrations,
    named_query,
)
from perfgate.store_reads import Reads, Summary  # noqa: F401  (store.Summary)
from perfgate.store_records import Records


class _Locked:
    """A DuckDB connection whose close() also releases perfgate's lock on the store."""

    def __init__(self, con: Any, fd: int) -> None:
        self._con, self._fd = con, fd

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def close(self) -> None:
        try:
            self._con.close()
        finally:
            if self._fd >= 0:
                os.close(self._fd)   # closing the descriptor releases the flock
                self._fd = -1


@contextmanager
def transaction(con: Any) -> Iterator[None]:
    """BEGIN … COMMIT on `con`, rolled back on any exception (Ctrl-C included)."""
    import duckdb

    con.execute("BEGIN")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # an interrupt may have ended it already
            con.execute("ROLLBACK")
        raise


class Store(Reads, Records):
    """One DuckDB file per project. Every method opens, works in a transaction, and closes."""

    def __init__(self, path: Path, busy_timeout_s: float = 30) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._migrated = False

    @property
    def name(self) -> str:
        """How messages name this store."""
        return str(self.path)

    # -- connections ----------------------------------------------------------------------

    def _connect(self, read_only: bool = False):
        """A connection that holds perfgate's own lock on the store until it is closed."""
        deadline = time.monotonic() + self.busy_timeout_s
        fd = self._lock(deadline)
        try:
            return _Locked(self._open(read_only, deadline), fd)
        except BaseException:
            os.close(fd)
            raise

    def _lock(self, deadline: float) -> int:
        """perfgate's own exclusive lock beside the store (`<store>.lock`), held from before
        DuckDB opens the file until after it closed it. DuckDB's own lock does not cover its
        whole close: with two processes opening and closing in turn, about one run in ten of
        tests/test_store.py's two writers lost an update, or failed with "Could not read
        enough bytes", on DuckDB 2.0.1 without this lock."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    os.close(fd)
                    raise StoreBusy(f"store busy: {self.path} is in use by another perfgate "
                                    "process; try again when it finishes") from None
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.25)

    def _open(self, read_only: bool, deadline: float):
        import duckdb

        delay = 0.05
        while True:
            try:
                if read_only:
                    con = duckdb.connect(str(self.path), read_only=True)
                else:
                    con = duckdb.connect(str(self.path), config={
                        "storage_compatibility_version": STORAGE_VERSION})
                # No progress bar: DuckDB draws it on stdout, where `perfgate sql` writes.
                con.execute("SET enable_progress_bar = false")
                return con
            except duckdb.IOException as exc:
                if not _LOCK.search(str(exc)):
                    raise UsageError(f"{self.path}: cannot open the store "
                                     f"({str(exc).splitlines()[0]})") from None
                left = deadline - time.monotonic()
                if left <= 0:
                    pid = re.search(r"PID (\d+)", str(exc))
                    who = f" (pid {pid.group(1)})" if pid else ""
                    raise StoreBusy(f"store busy: {self.path} is locked by another perfgate "
                                    f"process{who}; try again when it finishes") from None
                time.sleep(min(delay, left))
                delay = min(delay * 2, 1.0)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        import duckdb

        con = self._connect()
        try:
            if not self._migrated:
                self._migrate(con)
            with transaction(con):
                yield con
        except (duckdb.InterruptException, RuntimeError) as exc:
            # DuckDB turns Ctrl-C during a query into its own exception (InterruptException,
            # or a RuntimeError "Query interrupted" while fetching); callers expect
            # KeyboardInterrupt, which is what marks a session aborted.
            if isinstance(exc, duckdb.InterruptException) or "interrupted" in str(exc).lower():
                raise KeyboardInterrupt from None
            raise
        finally:
            con.close()

    def _migrate(self, con: Any) -> None:
        import duckdb

        known = migrations()
        newest = max((v for v, _, _ in known), default=0)
        have: set[int] = set()
        with contextlib.suppress(duckdb.CatalogException):  # a new file: no table yet
            have = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
        if have and max(have) > newest:
            raise UsageError(f"{self.name}: store schema version {max(have)} is newer than this "
                             f"perfgate ({newest}); upgrade perfgate")
        for version, name, sql in known:
            if version in have:
                continue
            # One transaction per migration, the bookkeeping table included: a crash never
            # leaves half a schema behind, and the next open applies the migration again.
            con.execute("BEGIN")
            try:
                con.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                            "(version INTEGER PRIMARY KEY, name VARCHAR, applied TIMESTAMP)")
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                            [version, name, _now()])
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
        self._migrated = True

    def schema_version(self) -> int:
        """The newest migration applied (applying any that are pending)."""
        with self._tx() as con:
            return con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]

    # -- sessions and runs ----------------------------------------------------------------

    def begin_session(self, **fields: Any) -> int:
        return self.begin_sessions([fields])[0]

    def begin_sessions(self, sessions: Sequence[Mapping[str, Any]]) -> list[int]:
        """New `running` sessions (contract, role, commit_sha, tree_sha, contract_digest,
        fingerprint, comparison_id), in one transaction; returns their ids in order."""
        for s in sessions:
            if s["role"] not in ROLES:
                raise ValueError(f"session role must be one of {', '.join(ROLES)}, "
                                 f"got {s['role']!r}")
        with self._tx() as con:
            return [con.execute(
                "INSERT INTO sessions (contract, role, comparison_id, commit_sha, tree_sha, "
                "contract_digest, fingerprint, host, pid, started, status, machine) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?) RETURNING id",
                [s["contract"], s["role"], s.get("comparison_id"), s.get("commit_sha"),
                 s.get("tree_sha"), s.get("contract_digest"),
                 json.dumps(s.get("fingerprint") or {}, sort_keys=True), socket.gethostname(),
                 os.getpid(), _now(), machine_of(s.get("fingerprint") or {})]).fetchone()[0]
                for s in sessions]

    def add_run(self, session_id: int, idx: int, record: Any, *, warmup: bool) -> None:
        self.add_runs([(session_id, idx, record, warmup)])

    def add_runs(self, runs: Sequence[tuple[int, int, Any, bool]], *,
                 finish: Mapping[int, str] | None = None) -> None:
        """Runs (session_id, idx, record, warmup) with one sample per metric, then sessions
        that end (id -> complete | failed | aborted), all in one transaction. Warmup runs are
        kept but never summarised."""
        for status in (finish or {}).values():
            if status not in STATUSES[1:]:
                raise ValueError(f"a session finishes {', '.join(STATUSES[1:])}, got {status!r}")
        with self._tx() as con:
            for session_id, idx, record, warmup in runs:
                run_id = con.execute(
                    "INSERT INTO runs (session_id, idx, warmup, exit_code, timed_out, "
                    "stdout_sha256, stdout_bytes, stderr_tail, started) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    [session_id, idx, warmup, record.exit_code, record.timed_out,
                     record.stdout_sha256, record.stdout_bytes, record.stderr_tail, _now()],
                ).fetchone()[0]
                rows = [(run_id, session_id, k, float(v), None)
                        for k, v in sorted(record.metrics.items())]
                benchmarks = getattr(record, "benchmarks", None) or {}
                rows += [(run_id, session_id, k, float(v), b)
                         for b, values in sorted(benchmarks.items())
                         for k, v in sorted(values.items())]
                if rows:
                    con.executemany("INSERT INTO samples (run_id, session_id, metric, value, "
                                    "benchmark) VALUES (?, ?, ?, ?, ?)", rows)
                # A suite invocation's own data points: one statement per benchmark and metric
                # (a list parameter unnested), as row-by-row inserts of a harness's thousands
                # of rounds took seconds per invocation.
                for b, values in sorted((getattr(record, "points", None) or {}).items()):
                    for k, vs in sorted(values.items()):
                        con.execute("INSERT INTO points SELECT ?, ?, ?, ?, "
                                    "generate_subscripts(l, 1) - 1, unnest(l) "
                                    "FROM (SELECT ?::DOUBLE[] AS l)",
                                    [run_id, session_id, b, k, [float(v) for v in vs]])
            for session_id, status in (finish or {}).items():
                # Only a running session can end: an aborted one never becomes complete later.
                con.execute("UPDATE sessions SET status = ?, finished = ? "
                            "WHERE id = ? AND status = 'running'", [status, _now(), session_id])

    def finish_session(self, session_id: int, status: str = "complete") -> None:
        self.add_runs([], finish={session_id: status})

    def abort_stale(self) -> list[int]:
        """Running sessions of dead perfgate processes on this host become aborted; returns
        their ids (sessions.recover also kills the process groups they left behind)."""
        host = socket.gethostname()
        with self._tx() as con:
            rows = con.execute("SELECT id, pid FROM sessions WHERE status = 'running' "
                               "AND host = ? ORDER BY id", [host]).fetchall()
            dead = [sid for sid, pid in rows if not (pid and proctree.exists(pid))]
            for sid in dead:
                con.execute("UPDATE sessions SET status = 'aborted', finished = ? WHERE id = ?",
                            [_now(), sid])
            return dead

    def new_comparison(self, contract: str, base_session: int, candidate_session: int) -> int:
        with self._tx() as con:
            for sid in (base_session, candidate_session):
                self._check_usable(con, sid, any_status=False)
            cid = con.execute("INSERT INTO comparisons (contract, base_session, "
                              "candidate_session, created) VALUES (?, ?, ?, ?) RETURNING id",
                              [contract, base_session, candidate_session, _now()]).fetchone()[0]
            con.execute("UPDATE sessions SET comparison_id = ? WHERE id IN (?, ?)",
                        [cid, base_session, candidate_session])
            return cid

    def record_decision(self, **fields: Any) -> int:
        unknown = sorted(set(fields) - DECISION_COLUMNS)
        if unknown:
            raise ValueError(f"decisions has no column {', '.join(unknown)}")
        return self._insert("decisions", "decided", fields, ("reasons", "document"))

    def _insert(self, table: str, stamp: str, fields: dict[str, Any],
                as_json: Sequence[str]) -> int:
        """One row of `fields` (JSON columns serialised), `stamp` set to now; returns its id."""
        for key in as_json:
            if key in fields and not isinstance(fields[key], str | None):
                fields[key] = json.dumps(fields[key])
        cols = list(fields)
        with self._tx() as con:
            return con.execute(
                f"INSERT INTO {table} ({', '.join(cols)}, {stamp}) "
                f"VALUES ({', '.join('?' for _ in cols)}, ?) RETURNING id",
                [fields[c] for c in cols] + [_now()]).fetchone()[0]

    def record_hotspots(self, contract: str, iteration: int, rows: Sequence[dict]) -> None:
        with self._tx() as con:
            for rank, h in enumerate(rows, 1):
                con.execute(
                    "INSERT INTO hotspots (contract, iteration, rank, file, line_start, line_end, "
                    "function, self_share, inclusive_share, calls, status, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [contract, iteration, rank, h.get("file"), h.get("line_start"),
                     h.get("line_end"), h.get("function"), h.get("self_share"),
                     h.get("inclusive_share"), h.get("calls"), h.get("status", "proposed"),
                     _now()])

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """A read-only connection, migrations applied first."""
        if not self.path.exists():
            raise UsageError(f"{self.path}: no store yet (run `perfgate scope` or `baseline`)")
        if not self._migrated:
            with self._tx():
                pass  # apply pending migrations before opening read-only
        con = self._connect(read_only=True)
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Any read-only SQL (`perfgate sql`): the store is changed only by perfgate."""
        import duckdb

        with self._reading() as con:
            try:
                cur = con.execute(sql, list(params))
                if cur.description is None:
                    return [], []
                return [d[0] for d in cur.description], cur.fetchall()
            except duckdb.Error as exc:
                first = self._redact(str(exc).splitlines()[0])
                if "read-only" in first.lower() or "read only" in first.lower():
                    raise UsageError(f"sql: the store is read-only from here: {first}") from None
                raise UsageError(f"sql: {first}") from None

    def _redact(self, text: str) -> str:
        return text  # the local store has no secrets; the shared one masks its credentials
