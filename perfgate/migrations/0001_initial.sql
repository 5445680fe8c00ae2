-- 0001: sessions, runs, samples, comparisons, decisions, hotspots. Append-only: never edit,
-- add 0002_*.sql instead.
CREATE SEQUENCE seq_sessions START 1;
CREATE SEQUENCE seq_runs START 1;
CREATE SEQUENCE seq_comparisons START 1;
CREATE SEQUENCE seq_decisions START 1;
CREATE SEQUENCE seq_hotspots START 1;

CREATE TABLE sessions (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_sessions'),
    contract        VARCHAR NOT NULL,
    role            VARCHAR NOT NULL,      -- preflight | baseline | candidate | measure
    comparison_id   BIGINT,
    commit_sha      VARCHAR,
    tree_sha        VARCHAR,
    contract_digest VARCHAR,
    fingerprint     JSON,
    host            VARCHAR,
    pid             INTEGER,
    pgid            INTEGER,
    started         TIMESTAMP NOT NULL,
    finished        TIMESTAMP,
    status          VARCHAR NOT NULL       -- running | complete | aborted | failed
);

CREATE TABLE runs (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_runs'),
    session_id    BIGINT NOT NULL,
    idx           INTEGER NOT NULL,
    warmup        BOOLEAN NOT NULL,
    exit_code     INTEGER,
    timed_out     BOOLEAN,
    stdout_sha256 VARCHAR,
    stdout_bytes  BIGINT,
    stderr_tail   VARCHAR,
    started       TIMESTAMP NOT NULL
);

CREATE TABLE samples (
    run_id     BIGINT NOT NULL,
    session_id BIGINT NOT NULL,
    metric     VARCHAR NOT NULL,
    value      DOUBLE NOT NULL
);

CREATE TABLE comparisons (
    id                BIGINT PRIMARY KEY DEFAULT nextval('seq_comparisons'),
    contract          VARCHAR NOT NULL,
    base_session      BIGINT,
    candidate_session BIGINT,
    created           TIMESTAMP NOT NULL
);

CREATE TABLE decisions (
    id                BIGINT PRIMARY KEY DEFAULT nextval('seq_decisions'),
    contract          VARCHAR NOT NULL,
    comparison_id     BIGINT,
    base_session      BIGINT,
    candidate_session BIGINT,
    verdict           VARCHAR NOT NULL,
    metric            VARCHAR,
    baseline_median   DOUBLE,
    candidate_median  DOUBLE,
    change_pct        DOUBLE,
    p_value           DOUBLE,
    ci_low            DOUBLE,
    ci_high           DOUBLE,
    test              VARCHAR,
    alpha             DOUBLE,
    n_baseline        INTEGER,
    n_candidate       INTEGER,
    reasons           JSON,
    document          JSON,
    decided           TIMESTAMP NOT NULL
);

CREATE TABLE hotspots (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_hotspots'),
    contract        VARCHAR NOT NULL,
    iteration       INTEGER,
    rank            INTEGER,
    file            VARCHAR,
    line_start      INTEGER,
    line_end        INTEGER,
    function        VARCHAR,
    self_share      DOUBLE,
    inclusive_share DOUBLE,
    calls           BIGINT,
    status          VARCHAR,
    created         TIMESTAMP NOT NULL
);

-- Measurement samples of complete sessions, with their context: what most queries want.
CREATE VIEW v_samples AS
SELECT s.contract, s.role, s.commit_sha, s.tree_sha, s.host, s.started, s.id AS session_id,
       r.idx AS run, m.metric, m.value
FROM samples m
JOIN runs r ON r.id = m.run_id
JOIN sessions s ON s.id = m.session_id
WHERE NOT r.warmup AND s.status = 'complete';
