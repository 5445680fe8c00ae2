"""The store's reads behind a gate and a report: a session's summary and samples, several
sessions' values in one read, the sessions themselves. A mixin of store.Store (its _tx)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perfgate.errors import UsageError
from perfgate.store_common import UNUSABLE


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


class Reads:
    """Methods of Store: they use its _tx() and name."""

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
