-- 0010: `perfgate bisect`: each bisection, and the sessions of each of its steps (the commits a
-- step measured together, interleaved). Append-only: add 0011_*.sql, never edit.
CREATE SEQUENCE seq_bisections START 1;

CREATE TABLE bisections (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_bisections'),
    contract        VARCHAR NOT NULL,
    contract_digest VARCHAR,
    metric          VARCHAR,
    good_sha        VARCHAR NOT NULL,
    bad_sha         VARCHAR NOT NULL,
    commits         INTEGER,               -- commits in good..bad, both ends included
    status          VARCHAR NOT NULL,      -- running | found | no change | inconclusive | failed
    runs            INTEGER,               -- measured runs it spent (warmups not counted)
    started         TIMESTAMP NOT NULL,
    finished        TIMESTAMP,
    document        JSON                   -- bisect.json: every comparison, culprit and skip
);

CREATE TABLE bisection_sessions (
    bisection_id BIGINT NOT NULL,
    step         INTEGER NOT NULL,         -- the sessions of one step were measured interleaved
    session_id   BIGINT NOT NULL,
    commit_sha   VARCHAR NOT NULL,
    position     INTEGER NOT NULL          -- 0 is the good commit, commits - 1 the bad one
);

-- One row per complete bisection session and metric: the numbers along the commits.
CREATE VIEW v_bisection_points AS
SELECT b.bisection_id, b.step, b.position, b.commit_sha, st.metric, st.n, st.median, st.cv,
       st.session_id
FROM bisection_sessions b
JOIN v_session_stats st ON st.session_id = b.session_id;
