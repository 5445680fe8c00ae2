-- 0002: views for plain SQL over complete sessions. Append-only: add 0003_*.sql, never edit.

-- One row per complete session and metric, over measurement runs: the numbers the gate uses.
CREATE VIEW v_session_stats AS
SELECT s.id AS session_id, s.contract, s.role, s.commit_sha, s.tree_sha, s.host, s.started,
       m.metric, count(*) AS n, median(m.value) AS median, avg(m.value) AS mean,
       stddev_samp(m.value) AS sd,
       CASE WHEN avg(m.value) <> 0 THEN stddev_samp(m.value) / avg(m.value) END AS cv,
       quantile_cont(m.value, 0.25) AS q1, quantile_cont(m.value, 0.75) AS q3,
       min(m.value) AS min, max(m.value) AS max
FROM samples m
JOIN runs r ON r.id = m.run_id
JOIN sessions s ON s.id = m.session_id
WHERE NOT r.warmup AND s.status = 'complete'
GROUP BY ALL;

-- Every run (warmups and failures too) with its session: for "which runs failed, and why".
CREATE VIEW v_runs AS
SELECT s.contract, s.role, s.status AS session_status, s.commit_sha, s.host,
       s.id AS session_id, r.id AS run_id, r.idx AS run, r.warmup, r.exit_code, r.timed_out,
       r.stdout_sha256, r.stdout_bytes, r.stderr_tail, r.started
FROM runs r
JOIN sessions s ON s.id = r.session_id;

-- Decisions with the commits they compared.
CREATE VIEW v_decisions AS
SELECT d.decided, d.contract, d.verdict, d.metric, d.change_pct, d.p_value, d.ci_low, d.ci_high,
       d.baseline_median, d.candidate_median, d.n_baseline, d.n_candidate, d.test, d.alpha,
       b.commit_sha AS base_commit, c.tree_sha AS candidate_tree, d.reasons, d.id AS decision_id,
       d.base_session, d.candidate_session
FROM decisions d
LEFT JOIN sessions b ON b.id = d.base_session
LEFT JOIN sessions c ON c.id = d.candidate_session;
