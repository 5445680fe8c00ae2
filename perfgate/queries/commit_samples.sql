-- Measurement samples of one metric of a contract's complete sessions at the given commits
-- (`perfgate detect`: one point per commit). The caller keeps a session only if its tree is
-- the commit's own tree (a candidate session's commit is the work tree's HEAD, not its code).
SELECT s.commit_sha, s.tree_sha, s.id AS session_id, m.value
FROM samples m
JOIN runs r ON r.id = m.run_id
JOIN sessions s ON s.id = m.session_id
WHERE s.contract = ? AND m.metric = ? AND s.status = 'complete' AND NOT r.warmup
  -- calibration sessions may run a slowed copy of the repro: never a commit's own speed
  AND s.role IN ('preflight', 'baseline', 'candidate', 'bisect', 'measure')
  AND s.commit_sha IN (SELECT unnest(?::VARCHAR[]))
ORDER BY s.id, r.idx
