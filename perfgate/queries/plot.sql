-- `perfgate plot`: $1 metric, $2 contract, $3 machine (NULL: any), $4 most points drawn,
-- $5 benchmark (NULL: a contract's single repro).
-- One point per complete baseline/candidate session in time order: median, quartiles, min and
-- max over its measurement runs. Beyond $4 sessions an 800-pixel plot cannot show them all:
-- every step-th session is drawn (step = ceil(total / $4)), and every accepted one, so only
-- those sessions' samples are aggregated and the time does not grow with the history.
WITH picked AS (
    SELECT id, started, role, commit_sha,
           row_number() OVER (ORDER BY started, id) - 1 AS k, count(*) OVER () AS total
    FROM sessions
    WHERE status = 'complete' AND role IN ('baseline', 'candidate') AND contract = $2
      AND ($3 IS NULL OR machine = $3)
), accepted AS (
    SELECT DISTINCT candidate_session AS id FROM decisions
    WHERE verdict = 'accepted' AND contract = $2
), shown AS (
    SELECT p.*, CAST(ceil(p.total / $4) AS BIGINT) AS step, a.id IS NOT NULL AS accepted
    FROM picked p LEFT JOIN accepted a ON a.id = p.id
    WHERE p.total <= $4 OR p.k % CAST(ceil(p.total / $4) AS BIGINT) = 0 OR a.id IS NOT NULL
), shown_runs AS (
    SELECT r.id, r.session_id FROM runs r JOIN shown s ON r.session_id = s.id WHERE NOT r.warmup
), stats AS (
    SELECT m.session_id, median(m.value) AS median, quantile_cont(m.value, 0.25) AS q1,
           quantile_cont(m.value, 0.75) AS q3, min(m.value) AS lo, max(m.value) AS hi
    FROM samples m JOIN shown_runs r ON r.id = m.run_id AND r.session_id = m.session_id
    WHERE m.metric = $1 AND m.benchmark IS NOT DISTINCT FROM $5
    GROUP BY m.session_id
)
SELECT s.id, s.started, s.role, s.commit_sha, t.median, t.q1, t.q3, t.lo, t.hi, s.accepted,
       s.step, s.total
FROM shown s JOIN stats t ON t.session_id = s.id
ORDER BY s.started, s.id
