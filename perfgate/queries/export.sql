-- `perfgate export`: every sample with its run and session, streamed. No ORDER BY: sorting
-- 10 million rows takes gigabytes of memory (3.3 GB measured), streaming a few hundred MB;
-- rows come roughly in the order they were stored. Sort the file when reading it.
SELECT ses.contract, ses.role, ses.status, ses.commit_sha, ses.tree_sha, ses.host, ses.machine,
       ses.started AS session_started, ses.id AS session_id, ses.comparison_id,
       r.id AS run_id, r.idx AS run, r.warmup, r.exit_code, r.started AS run_started,
       v.metric, v.value, v.benchmark
FROM samples v JOIN runs r ON r.id = v.run_id JOIN sessions ses ON ses.id = v.session_id
