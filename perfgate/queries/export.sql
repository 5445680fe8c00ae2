SELECT ses.contract, ses.role, ses.status, ses.commit_sha, ses.tree_sha, ses.host,
       ses.started AS session_started, ses.id AS session_id, ses.comparison_id,
       r.id AS run_id, r.idx AS run, r.warmup, r.exit_code, r.started AS run_started,
       v.metric, v.value, v.benchmark
FROM samples v JOIN runs r ON r.id = v.run_id JOIN sessions ses ON ses.id = v.session_id
ORDER BY ses.id, r.idx, v.metric
