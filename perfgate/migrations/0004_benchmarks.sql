-- 0004: suites. A sample may belong to one benchmark of a suite (NULL: the run as a whole,
-- which is every sample of a single-repro contract and a suite invocation's own cost).
-- `points` keeps each invocation's own data points (the harness's rounds or repetitions),
-- for plots; the gate tests one value per benchmark per invocation (samples).
-- Append-only: add 0005_*.sql, never edit.
ALTER TABLE samples ADD COLUMN benchmark VARCHAR;

CREATE TABLE points (
    run_id     BIGINT NOT NULL,
    session_id BIGINT NOT NULL,
    benchmark  VARCHAR NOT NULL,
    metric     VARCHAR NOT NULL,
    idx        INTEGER NOT NULL,
    value      DOUBLE NOT NULL
);

CREATE OR REPLACE VIEW v_samples AS
SELECT s.contract, s.role, s.commit_sha, s.tree_sha, s.host, s.started, s.id AS session_id,
       r.idx AS run, m.metric, m.value, m.benchmark
FROM samples m
JOIN runs r ON r.id = m.run_id
JOIN sessions s ON s.id = m.session_id
WHERE NOT r.warmup AND s.status = 'complete';

CREATE OR REPLACE VIEW v_session_stats AS
SELECT s.id AS session_id, s.contract, s.role, s.commit_sha, s.tree_sha, s.host, s.started,
       m.metric, count(*) AS n, median(m.value) AS median, avg(m.value) AS mean,
       stddev_samp(m.value) AS sd,
       CASE WHEN avg(m.value) <> 0 THEN stddev_samp(m.value) / avg(m.value) END AS cv,
       quantile_cont(m.value, 0.25) AS q1, quantile_cont(m.value, 0.75) AS q3,
       min(m.value) AS min, max(m.value) AS max, m.benchmark
FROM samples m
JOIN runs r ON r.id = m.run_id
JOIN sessions s ON s.id = m.session_id
WHERE NOT r.warmup AND s.status = 'complete'
GROUP BY ALL;

-- Per benchmark of a suite: each invocation's sample beside its own data points.
CREATE VIEW v_points AS
SELECT s.contract, s.role, s.commit_sha, s.id AS session_id, r.idx AS run, p.benchmark,
       p.metric, p.idx AS point, p.value
FROM points p
JOIN runs r ON r.id = p.run_id
JOIN sessions s ON s.id = p.session_id
WHERE NOT r.warmup AND s.status = 'complete';
