-- `perfgate plot`: $1 metric, $2 contract, $3 machine (NULL: any), $4 most points drawn.
-- One point per complete baseline/candidate session in time order; beyond $4 sessions,
-- consecutive sessions are pooled into $4 buckets (an 800-pixel plot cannot show more), and the
-- point's median, quartiles, min and max are over all measurement runs of its bucket.
WITH picked AS (
    SELECT id, started, role, commit_sha,
           row_number() OVER (ORDER BY started, id) - 1 AS k, count(*) OVER () AS total
    FROM sessions
    WHERE status = 'complete' AND role IN ('baseline', 'candidate') AND contract = $2
      AND ($3 IS NULL OR machine = $3)
), bucketed AS (
    SELECT *, CASE WHEN total <= $4 THEN k ELSE k * $4 // total END AS bucket FROM picked
), head AS (
    SELECT bucket, arg_min(id, k) AS id, min(started) AS started, arg_min(role, k) AS role,
           arg_min(commit_sha, k) AS commit_sha, count(*) AS sessions
    FROM bucketed GROUP BY bucket
), stats AS (
    SELECT b.bucket, median(m.value) AS median, quantile_cont(m.value, 0.25) AS q1,
           quantile_cont(m.value, 0.75) AS q3, min(m.value) AS lo, max(m.value) AS hi
    FROM samples m JOIN runs r ON r.id = m.run_id JOIN bucketed b ON b.id = m.session_id
    WHERE m.metric = $1 AND NOT r.warmup
    GROUP BY b.bucket
), acc AS (
    SELECT b.bucket, bool_or(d.verdict = 'accepted') AS accepted
    FROM bucketed b JOIN decisions d ON d.candidate_session = b.id GROUP BY b.bucket
)
SELECT h.id, h.started, h.role, h.commit_sha, s.median, s.q1, s.q3, s.lo, s.hi,
       coalesce(a.accepted, false) AS accepted, h.sessions
FROM head h JOIN stats s USING (bucket) LEFT JOIN acc a USING (bucket)
ORDER BY h.started, h.id
