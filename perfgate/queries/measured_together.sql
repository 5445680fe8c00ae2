-- The newest two complete sessions of trees ? and ? (contract digest ?) that were measured
-- together: in one step of a bisection, or as the two sides of one comparison.
WITH pairs AS (
    SELECT x.session_id AS s1, y.session_id AS s2
    FROM bisection_sessions x
    JOIN bisection_sessions y
      ON x.bisection_id = y.bisection_id AND x.step = y.step AND x.session_id <> y.session_id
    UNION ALL SELECT base_session, candidate_session FROM comparisons
    UNION ALL SELECT candidate_session, base_session FROM comparisons
)
SELECT p.s1 AS first, p.s2 AS second
FROM pairs p
JOIN sessions a ON a.id = p.s1
JOIN sessions b ON b.id = p.s2
WHERE a.status = 'complete' AND b.status = 'complete'
  -- a calibration side may run a slowed copy of the repro: never a tree's own speed
  AND a.role <> 'calibration' AND b.role <> 'calibration'
  AND a.tree_sha = ? AND b.tree_sha = ? AND a.contract_digest = ? AND b.contract_digest = ?
ORDER BY greatest(p.s1, p.s2) DESC
LIMIT 1
