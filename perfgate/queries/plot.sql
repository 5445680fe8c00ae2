SELECT s.session_id AS id, s.started, s.role, s.commit_sha, s.median, s.q1, s.q3,
       s.min AS lo, s.max AS hi, bool_or(d.verdict = 'accepted') AS accepted
FROM v_session_stats s LEFT JOIN decisions d ON d.candidate_session = s.session_id
WHERE s.role IN ('baseline', 'candidate') AND s.metric = ? AND s.contract = ?
  AND s.benchmark IS NOT DISTINCT FROM ?
GROUP BY ALL ORDER BY s.started, s.session_id
