"""The DuckDB store: the only module with SQL. Short-lived connections, append-only migrations.

Files are written with DuckDB's `storage_compatibility_version = 'v1.0.0'` (storage format 64,
the one DuckDB 0.10 to 1.x read), so the DuckDB 1.x CLI (`duckdb .perfgate/perfgate.duckdb`)
can read a store written by the 2.x library; a default 2.x file is refused by 1.x.
DuckDB allows one writing process per file: a second opener gets a lock error, which we retry
with backoff until `busy_timeout_s`, then report as "store busy".
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.resources
import json
import os
import re
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfgate import proctree
from perfgate.errors import StoreBusy, UsageError

STORAGE_VERSION = "v1.0.0"
ROLES = ("preflight", "baseline", "candidate", "measure", "calibration", "bisect")
STATUSES = ("running", "complete", "aborted", "failed")
# Samples of these sessions are never handed out unless asked for explicitly.
UNUSABLE = ("running", "aborted")
DECISION_COLUMNS = frozenset(
    "contract comparison_id base_session candidate_session verdict metric baseline_median "
    "candidate_median change_pct p_value ci_low ci_high test alpha n_baseline n_candidate "
    "reasons document looks runs_per_side".split())
PUSHED_TABLES = ("sessions", "comparisons", "decisions", "calibrations", "hotspots")
_LOCK = re.compile(r"Could not set lock|Conflicting lock", re.IGNORECASE)


@dataclass(frozen=True)
class Summary:
    """One metric of one session over its measurement runs; sd is the sample stddev."""

    n: int
    median: float
    mean: float
    sd: float | None
    cv: float | None
    min: float
    max: float



@dataclass(frozen=True)
class NewSession:
    """A finished session for add_sessions(): runs are (idx, warmup, exit_code, {metric: value})."""

    contract: str
    role: str
    commit_sha: str | None
    fingerprint: dict
    started: dt.datetime
    runs: Sequence[tuple[int, bool, int, Mapping[str, float]]]
    status: str = "complete"
    finished: dt.datetime | None = None
    tree_sha: str | None = None
    contract_digest: str | None = None


def machine_of(fingerprint: Mapping[str, Any]) -> str:
    """`<host or $PERFGATE_MACHINE>/<8 hex of the CPU model and cores>`: history groups by it.
    The label names a class of CI runners whose host names change; the hash still keeps
    different hardware apart. Migration 0008 computes the same string in SQL."""
    label = os.environ.get("PERFGATE_MACHINE") or fingerprint.get("host") or "?"
    hw = f"{fingerprint.get('cpu_model') or ''}|{fingerprint.get('cores') or ''}"
    return f"{label}/{hashlib.md5(hw.encode()).hexdigest()[:8]}"


def _no_pandas_lookups() -> None:
    """DuckDB's Python binding tries `import pandas` for every parameter it converts; without
    pandas installed each try searches sys.path again (seconds per 10,000 rows). Recording
    the absence once makes those imports fail at once, exactly as they would anyway."""
    import importlib.util
    import sys

    if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
        sys.modules["pandas"] = None  # type: ignore[assignment]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def named_query(name: str) -> str:
    """A read-only query kept as perfgate/queries/NAME.sql (SQL stays SQL, not Python strings)."""
    return importlib.resources.files("perfgate.queries").joinpath(f"{name}.sql").read_text()


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migrations/NNNN_name.sql, in order."""
    out = []
    for f in importlib.resources.files("perfgate.migrations").iterdir():
        m = re.match(r"^(\d{4})_(\w+)\.sql$", f.name)
        if m:
            out.append((int(m.group(1)), m.group(2), f.read_text()))
    return sorted(out)


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


class Store:
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
            con.execute("BEGIN")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):  # an interrupt may have ended it
                    con.execute("ROLLBACK")
                raise
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

    # -- reading --------------------------------------------------------------------------

    def _check_usable(self, con: Any, session_id: int, any_status: bool) -> None:
        row = con.execute("SELECT status FROM sessions WHERE id = ?", [session_id]).fetchone()
        if row is None:
            raise UsageError(f"{self.name}: no session {session_id} in the store")
        if row[0] in UNUSABLE and not any_status:
            raise UsageError(f"{self.name}: session {session_id} is {row[0]}; only finished "
                             "sessions are compared (measure again)")

    def summary(self, session_id: int, *, any_status: bool = False) -> dict[str, Summary]:
        """n, median, mean, sd (sample), CV, min, max per metric, over measurement runs.
        A running or aborted session is refused unless `any_status`."""
        with self._tx() as con:
            self._check_usable(con, session_id, any_status)
            rows = con.execute(
                "SELECT m.metric, count(*), median(m.value), avg(m.value), stddev_samp(m.value), "
                "CASE WHEN avg(m.value) <> 0 THEN stddev_samp(m.value) / avg(m.value) END, "
                "min(m.value), max(m.value) FROM samples m JOIN runs r ON r.id = m.run_id "
                "WHERE m.session_id = ? AND r.session_id = ? AND NOT r.warmup "
                "AND m.benchmark IS NULL "
                "GROUP BY m.metric ORDER BY m.metric", [session_id, session_id]).fetchall()
        return {row[0]: Summary(*row[1:]) for row in rows}

    def samples(self, session_id: int, metric: str, *, any_status: bool = False) -> list[float]:
        """Measurement values of one metric, in run order (running/aborted: see summary)."""
        with self._tx() as con:
            self._check_usable(con, session_id, any_status)
            return [r[0] for r in con.execute(
                "SELECT m.value FROM samples m JOIN runs r ON r.id = m.run_id "
                "WHERE m.session_id = ? AND r.session_id = ? AND m.metric = ? AND NOT r.warmup "
                "AND m.benchmark IS NULL ORDER BY r.idx",
                [session_id, session_id, metric]).fetchall()]

    def values(self, session_ids: Sequence[int], metrics: Sequence[str]
               ) -> dict[int, dict[str, list[float]]]:
        """Measurement values per session and metric, in run order, in one read (the gate's
        two sessions: filtered on the sessions first, so the history's size does not matter).
        Running or aborted sessions are refused, as by `summary`."""
        out: dict[int, dict[str, list[float]]] = {sid: {m: [] for m in metrics}
                                                  for sid in session_ids}
        with self._tx() as con:
            for sid in session_ids:
                self._check_usable(con, sid, False)
            rows = con.execute(
                "SELECT m.session_id, m.metric, m.value FROM samples m "
                "JOIN runs r ON r.id = m.run_id AND r.session_id = m.session_id "
                "WHERE m.session_id IN (SELECT unnest($1::BIGINT[])) "
                "AND r.session_id IN (SELECT unnest($1::BIGINT[])) "
                "AND m.metric IN (SELECT unnest($2::VARCHAR[])) AND NOT r.warmup "
                "AND m.benchmark IS NULL ORDER BY m.session_id, m.metric, r.idx",
                [list(session_ids), list(metrics)]).fetchall()
        for sid, metric, value in rows:
            out[sid][metric].append(value)
        return out

    def suite_values(self, session_ids: Sequence[int], metrics: Sequence[str]
                     ) -> dict[int, dict[str, dict[str, list[float]]]]:
        """A suite's samples: session -> benchmark -> metric -> one value per invocation, in
        invocation order, in one read. Running or aborted sessions are refused."""
        out: dict[int, dict[str, dict[str, list[float]]]] = {sid: {} for sid in session_ids}
        with self._tx() as con:
            for sid in session_ids:
                self._check_usable(con, sid, False)
            rows = con.execute(
                "SELECT m.session_id, m.benchmark, m.metric, m.value FROM samples m "
                "JOIN runs r ON r.id = m.run_id "
                "WHERE m.session_id IN (SELECT unnest(?::BIGINT[])) "
                "AND m.metric IN (SELECT unnest(?::VARCHAR[])) AND NOT r.warmup "
                "AND m.benchmark IS NOT NULL ORDER BY m.session_id, m.benchmark, m.metric, r.idx",
                [list(session_ids), list(metrics)]).fetchall()
        for sid, bench, metric, value in rows:
            out[sid].setdefault(bench, {}).setdefault(metric, []).append(value)
        return out

    def _dicts(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self._tx() as con:
            cur = con.execute(sql, list(params))
            cols = [d[0] for d in cur.description]
            rows = [dict(zip(cols, row)) for row in cur.fetchall()]
        for row in rows:
            if isinstance(row.get("fingerprint"), str):
                row["fingerprint"] = json.loads(row["fingerprint"])
        return rows

    def session(self, session_id: int) -> dict[str, Any] | None:
        rows = self._dicts("SELECT * FROM sessions WHERE id = ?", [session_id])
        return rows[0] if rows else None

    def latest_session(self, contract: str, role: str, *, status: str = "complete",
                       contract_digest: str | None = None, commit_sha: str | None = None,
                       before_id: int | None = None) -> dict[str, Any] | None:
        rows = self._dicts(
            "SELECT * FROM sessions WHERE contract = ? AND role = ? AND status = ? "
            "AND (? IS NULL OR contract_digest = ?) AND (? IS NULL OR commit_sha = ?) "
            "AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT 1",
            [contract, role, status, contract_digest, contract_digest, commit_sha, commit_sha,
             before_id, before_id])
        return rows[0] if rows else None

    def sessions_overview(self, contract: str | None = None,
                          limit: int | None = None) -> list[dict[str, Any]]:
        """Newest first: id, contract, role, status, commit, times, host, machine, measurement
        runs. The newest sessions are picked before runs are counted: fast on a big store."""
        return self._dicts(
            "WITH s AS (SELECT id, contract, role, status, commit_sha, started, finished, host, "
            "machine FROM sessions WHERE (? IS NULL OR contract = ?) "
            "ORDER BY started DESC, id DESC LIMIT ?) "
            "SELECT s.*, count(r.id) FILTER (WHERE NOT r.warmup) AS runs, "
            "count(r.id) FILTER (WHERE r.exit_code <> 0 OR r.timed_out) AS failed_runs "
            "FROM s LEFT JOIN runs r ON r.session_id = s.id GROUP BY ALL "
            "ORDER BY s.started DESC, s.id DESC",
            [contract, contract, limit])

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

    def history(self, *, metric: str, contract: str | None = None, last: int = 20,
                machine: str | None = None, benchmark: str | None = None
                ) -> tuple[list[str], list[tuple]]:
        """Complete baseline/candidate sessions, newest first: machine, median of `metric`, the
        change against the session before it on the same machine (same contract; positive =
        the number went up), and the verdict when a decision used the session as its candidate.
        Only the sessions shown (and the ones before them) are aggregated. `benchmark`: one
        benchmark of a suite (None: a single repro's runs)."""
        return self.query(named_query("history"), [metric, contract, machine, last, benchmark])

    def export(self, path: Path, fmt: str) -> int:
        """Samples joined with their runs and sessions, streamed by DuckDB's COPY to csv,
        parquet or json (an array): no row passes through Python. Returns the rows written."""
        options = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER",
                   "json": "FORMAT json, ARRAY true"}[fmt]
        quoted = str(path).replace("'", "''")
        with self._reading() as con:
            return con.execute(f"COPY ({named_query('export')}) TO '{quoted}' ({options})"
                               ).fetchone()[0]

    def plot_series(self, *, metric: str, contract: str, machine: str | None = None,
                    max_points: int = 400, benchmark: str | None = None
                    ) -> list[dict[str, Any]]:
        """Per complete session in time order: median, quartiles, min, max; accepted marks.
        Beyond `max_points` sessions, every `step`-th session (of `total`) and every accepted
        one: only those are aggregated. Sessions of several machines are never drawn as one
        line: name one."""
        machines = [r[0] for r in self.query(
            "SELECT DISTINCT machine FROM sessions WHERE contract = ? AND status = 'complete' "
            "AND (? IS NULL OR machine = ?) ORDER BY 1", [contract, machine, machine])[1]]
        if len(machines) > 1:
            shown = ", ".join(str(m) for m in machines[:5]) + (", …" if len(machines) > 5 else "")
            raise UsageError(f"{contract} was measured on {len(machines)} machines ({shown}); "
                             "name one with --machine")
        columns, rows = self.query(named_query("plot"),
                                   [metric, contract, machine, max_points, benchmark])
        return [dict(zip(columns, r)) for r in rows]

    def record_calibration(self, **fields: Any) -> int:
        """One `perfgate calibrate` result (see migrations/0003)."""
        return self._insert("calibrations", "created", fields, ("environment", "detail"))

    def latest_calibration(self, contract: str) -> dict[str, Any] | None:
        rows = self._dicts("SELECT * FROM calibrations WHERE contract = ? "
                           "ORDER BY created DESC, id DESC LIMIT 1", [contract])
        return rows[0] if rows else None

    # -- bisections and the history of commits (perfgate bisect, perfgate detect) ----------

    def begin_bisection(self, **fields: Any) -> int:
        """A new `running` bisection (contract, contract_digest, metric, good_sha, bad_sha,
        commits); see migrations/0010."""
        return self._insert("bisections", "started", {**fields, "status": "running"}, ())

    def unfinished_bisection(self, contract: str, digest: str, good: str, bad: str
                             ) -> dict[str, Any] | None:
        """The newest bisection of this range that never finished (Ctrl-C): it is resumed."""
        rows = self._dicts("SELECT * FROM bisections WHERE contract = ? AND contract_digest = ? "
                           "AND good_sha = ? AND bad_sha = ? AND status = 'running' "
                           "ORDER BY id DESC LIMIT 1", [contract, digest, good, bad])
        return rows[0] if rows else None

    def finish_bisection(self, bisection_id: int, status: str, document: Mapping[str, Any]
                         ) -> None:
        with self._tx() as con:
            con.execute("UPDATE bisections SET status = ?, runs = ?, finished = ?, document = ? "
                        "WHERE id = ?", [status, document.get("runs", {}).get("measured"),
                                         _now(), json.dumps(document), bisection_id])

    def tag_bisection(self, bisection_id: int, step: int,
                      rows: Sequence[tuple[int, str, int]]) -> None:
        """Sessions (session_id, commit_sha, position) measured together in one step."""
        with self._tx() as con:
            con.executemany("INSERT INTO bisection_sessions VALUES (?, ?, ?, ?, ?)",
                            [(bisection_id, step, sid, sha, pos) for sid, sha, pos in rows])

    def last_bisection_step(self, bisection_id: int) -> int:
        with self._tx() as con:
            return con.execute("SELECT coalesce(max(step), 0) FROM bisection_sessions "
                               "WHERE bisection_id = ?", [bisection_id]).fetchone()[0]

    def bisection_runs(self, bisection_id: int) -> tuple[int, int]:
        """(measured runs, warmup runs) of every session of the bisection, failed ones too."""
        with self._tx() as con:
            row = con.execute(
                "SELECT count(*) FILTER (WHERE NOT r.warmup), count(*) FILTER (WHERE r.warmup) "
                "FROM runs r JOIN bisection_sessions b ON b.session_id = r.session_id "
                "WHERE b.bisection_id = ?", [bisection_id]).fetchone()
        return int(row[0]), int(row[1])

    def measured_together(self, digest: str, tree_a: str, tree_b: str
                          ) -> tuple[int, int] | None:
        """The newest complete sessions of two trees measured interleaved with each other
        (one bisection step, or one comparison): (session of tree_a, session of tree_b)."""
        with self._tx() as con:
            row = con.execute(named_query("measured_together"),
                              [tree_a, tree_b, digest, digest]).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def commit_samples(self, contract: str, metric: str, commits: Sequence[str]
                       ) -> list[tuple[str, str, int, float]]:
        """(commit, tree, session, value) of complete sessions at these commits."""
        with self._tx() as con:
            return con.execute(named_query("commit_samples"),
                               [contract, metric, list(commits)]).fetchall()

    # -- the shared store's bookkeeping -------------------------------------------------

    def pending_push(self) -> int:
        """Finished sessions not yet in the shared store."""
        with self._tx() as con:
            return con.execute("SELECT count(*) FROM sessions WHERE pushed IS NULL "
                               "AND status <> 'running'").fetchone()[0]

    def mark_pushed(self, uids: Mapping[str, Sequence[str]], when: dt.datetime) -> None:
        """Rows (by table and uid) that the shared store now holds."""
        with self._tx() as con:
            for table, values in uids.items():
                if table not in PUSHED_TABLES:
                    raise ValueError(f"{table} is not pushed")
                if values:
                    con.execute(f"UPDATE {table} SET pushed = ? WHERE pushed IS NULL "
                                "AND uid IN (SELECT unnest(?::VARCHAR[]))", [when, list(values)])

    # -- many sessions at once ------------------------------------------------------------

    def add_sessions(self, sessions: Sequence[NewSession]) -> list[int]:
        """Finished sessions with their runs and samples, in one transaction and column-wise
        (an import, or a benchmark building a big store): ~150,000 samples a second where
        add_run() takes a transaction per run. Returns the new session ids."""
        if not sessions:
            return []
        for new in sessions:
            if new.role not in ROLES or new.status not in STATUSES[1:]:
                raise ValueError(f"bad role or status: {new.role!r}, {new.status!r}")
        with self._tx() as con:
            ids = [r[0] for r in con.execute("SELECT nextval('seq_sessions') FROM range(?)",
                                             [len(sessions)]).fetchall()]
            nruns = sum(len(new.runs) for new in sessions)
            run_ids = iter([r[0] for r in con.execute(
                "SELECT nextval('seq_runs') FROM range(?)", [nruns]).fetchall()])
            cols: dict[str, list] = {k: [] for k in ("id", "session_id", "idx", "warmup",
                                                     "exit_code", "started")}
            samples: dict[str, list] = {k: [] for k in ("run_id", "session_id", "metric",
                                                        "value")}
            for sid, new in zip(ids, sessions):
                for idx, warmup, exit_code, metrics in new.runs:
                    rid = next(run_ids)
                    for col, v in zip(cols, (rid, sid, idx, warmup, exit_code, new.started)):
                        cols[col].append(v)
                    for metric, value in metrics.items():
                        for col, v in zip(samples, (rid, sid, metric, float(value))):
                            samples[col].append(v)
            # Dicts of numpy arrays are scanned by DuckDB in place (a replacement scan of the
            # local variable): list parameters cost seconds per 100k values on DuckDB 1.5.
            import numpy as np

            _no_pandas_lookups()
            # Sessions have NULLs, which the numpy scan of DuckDB 1.5 refuses: lists for them.
            con.execute(
                "INSERT INTO sessions (id, contract, role, commit_sha, tree_sha, "
                "contract_digest, fingerprint, host, machine, started, finished, status) "
                "SELECT * FROM (SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), "
                "unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?))",
                [list(c) for c in zip(*(
                    (sid, n.contract, n.role, n.commit_sha, n.tree_sha, n.contract_digest,
                     json.dumps(n.fingerprint, sort_keys=True), n.fingerprint.get("host"),
                     machine_of(n.fingerprint), n.started, n.finished or n.started, n.status)
                    for sid, n in zip(ids, sessions)))])
            new_runs = {"id": np.array(cols["id"], dtype=np.int64),  # noqa: F841
                        "session_id": np.array(cols["session_id"], dtype=np.int64),
                        "idx": np.array(cols["idx"], dtype=np.int32),
                        "warmup": np.array(cols["warmup"], dtype=bool),
                        "exit_code": np.array(cols["exit_code"], dtype=np.int32),
                        "started": np.array(cols["started"], dtype="datetime64[us]")}
            new_samples = {"run_id": np.array(samples["run_id"], dtype=np.int64),  # noqa: F841
                           "session_id": np.array(samples["session_id"], dtype=np.int64),
                           "metric": np.array(samples["metric"], dtype=object),
                           "value": np.array(samples["value"], dtype=np.float64)}
            con.execute("INSERT INTO runs BY NAME SELECT * FROM new_runs")
            con.execute("INSERT INTO samples BY NAME SELECT * FROM new_samples")
            return ids
