"""The store's records beside sessions and runs: calibrations, bisections, the shared store's
bookkeeping, and sessions added in bulk. A mixin of store.Store (its connection and lock)."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfgate.errors import UsageError
from perfgate.store_common import (
    PUSHED_TABLES,
    ROLES,
    STATUSES,
    NewSession,
    _no_pandas_lookups,
    _now,
    machine_of,
    named_query,
)


class Records:
    """Methods of Store: they use its _tx(), _reading(), query(), _dicts() and _insert()."""

    # -- reading the history (perfgate history, export, plot) ------------------------------

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
