SELECT s.started, s.contract, s.commit_sha, s.role, s.n, s.median,
       100.0 * (s.median - lag(s.median) OVER w) / abs(lag(s.median) OVER w) AS change_pct,
       d.verdict, s.session_id
FROM v_session_stats s
LEFT JOIN decisions d ON d.candidate_session = s.session_id
WHERE s.role IN ('baseline', 'candidate') AND s.metric = ? AND (? IS NULL OR s.contract = ?)
  AND s.benchmark IS NOT DISTINCT FROM ?
WINDOW w AS (PARTITION BY s.contract, s.benchmark ORDER BY s.started, s.session_id)
ORDER BY s.started DESC, s.session_id DESC
LIMIT ?
