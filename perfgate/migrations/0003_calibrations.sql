-- 0003: `perfgate calibrate` results, and how each decision was reached (adaptive rounds).
-- Append-only: add 0004_*.sql, never edit.
CREATE SEQUENCE seq_calibrations START 1;

CREATE TABLE calibrations (
    id               BIGINT PRIMARY KEY DEFAULT nextval('seq_calibrations'),
    contract         VARCHAR NOT NULL,
    contract_digest  VARCHAR,
    commit_sha       VARCHAR,
    metric           VARCHAR NOT NULL,
    gates            INTEGER NOT NULL,      -- A/A comparisons run
    runs             INTEGER NOT NULL,      -- measurement_runs per side (the first look)
    adaptive         BOOLEAN NOT NULL,
    false_accepts    INTEGER NOT NULL,      -- A/A gates that said "accepted"
    inconclusive     INTEGER NOT NULL,
    alpha            DOUBLE,
    cv               DOUBLE,                -- median within-session CV of the primary metric
    mde_pct          DOUBLE,                -- smallest detectable change at `runs` per side
    recommended_runs INTEGER,               -- runs per side the threshold needs
    effect_pct       DOUBLE,                -- synthetic improvement tried (NULL: none)
    effect_gates     INTEGER,
    detected         INTEGER,               -- synthetic gates accepted (power = detected / effect_gates)
    environment      JSON,
    detail           JSON,                  -- every gate: verdict, p, change, runs per side
    created          TIMESTAMP NOT NULL
);

ALTER TABLE decisions ADD COLUMN looks INTEGER;
ALTER TABLE decisions ADD COLUMN runs_per_side INTEGER;
