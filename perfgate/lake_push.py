"""The push: a local store's finished sessions into the shared store, in one transaction.

A mixin of lake.SharedStore (it uses its connection, migration and config), kept apart so the
lake's connection and schema and the push's staging and ids each read on their own. SQL, like
lake.py and store.py: the batch is staged from the attached local file into temp tables, then
written with ids derived from uids, so every runner computes the same id for the same row.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Any

from perfgate.errors import SharedStoreError, StoreBusy
from perfgate.shared import redact
from perfgate.store import _LOCK, Store


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


class Pushing:
    """push_from and its steps; mixed into lake.SharedStore."""

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
            now = utc_now()
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


def utc_now() -> dt.datetime:
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
