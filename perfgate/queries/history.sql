-- `perfgate history`: $1 metric, $2 contract (NULL: all), $3 machine (NULL: all), $4 how many,
-- $5 benchmark (NULL: a contract's single repro; a suite's benchmark by name).
-- The newest complete baseline/candidate sessions are picked from `sessions` first, and only
-- they (and the session before each on the same contract and machine) are aggregated: their
-- runs first, then their samples, so DuckDB's join filters let zone maps skip the rest and the
-- time does not grow with the history. The change is against the previous session of the same
-- contract on the same machine: machines are never compared with each other.
WITH ranked AS (
    SELECT id, contract, machine, role, commit_sha, started,
           lag(id) OVER (PARTITION BY contract, machine ORDER BY started, id) AS prev_id
    FROM sessions
    WHERE status = 'complete' AND role IN ('baseline', 'candidate')
      AND ($2 IS NULL OR contract = $2) AND ($3 IS NULL OR machine = $3)
), picked AS (
    SELECT * FROM ranked ORDER BY started DESC, id DESC LIMIT $4
), wanted AS (
    SELECT id FROM picked UNION SELECT prev_id FROM picked WHERE prev_id IS NOT NULL
), wanted_runs AS (
    SELECT r.id, r.session_id FROM runs r JOIN wanted w ON r.session_id = w.id WHERE NOT r.warmup
), stats AS (
    SELECT m.session_id, count(*) AS n, median(m.value) AS median
    FROM samples m JOIN wanted_runs r ON r.id = m.run_id AND r.session_id = m.session_id
    WHERE m.metric = $1 AND m.benchmark IS NOT DISTINCT FROM $5
    GROUP BY m.session_id
)
SELECT p.started, p.contract, p.machine, p.commit_sha, p.role, s.n, s.median,
       100.0 * (s.median - prev.median) / abs(prev.median) AS change_pct,
       d.verdict, p.id AS session_id
FROM picked p
JOIN stats s ON s.session_id = p.id
LEFT JOIN stats prev ON prev.session_id = p.prev_id
LEFT JOIN decisions d ON d.candidate_session = p.id
ORDER BY p.started DESC, p.id DESC
