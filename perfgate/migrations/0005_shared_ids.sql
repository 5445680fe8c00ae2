-- 0005: what a shared store needs (issue 17). Append-only: add 0006_*.sql, never edit.
--
-- uid: a globally unique id per row that leaves this machine, so a push is idempotent (the
--   shared store derives its own ids from it and never holds a session twice).
-- pushed: when the row reached the shared store (NULL: not yet); local bookkeeping only.
-- machine: which machine measured the session, "<host or $PERFGATE_MACHINE>/<8 hex of the
--   CPU model and core count>", so history never pools two machines by accident.
--   store.machine_of() computes the same string for new sessions.
ALTER TABLE sessions ADD COLUMN uid VARCHAR DEFAULT (gen_random_uuid()::VARCHAR);
ALTER TABLE sessions ADD COLUMN pushed TIMESTAMP;
ALTER TABLE sessions ADD COLUMN machine VARCHAR;
ALTER TABLE comparisons ADD COLUMN uid VARCHAR DEFAULT (gen_random_uuid()::VARCHAR);
ALTER TABLE comparisons ADD COLUMN pushed TIMESTAMP;
ALTER TABLE decisions ADD COLUMN uid VARCHAR DEFAULT (gen_random_uuid()::VARCHAR);
ALTER TABLE decisions ADD COLUMN pushed TIMESTAMP;
ALTER TABLE calibrations ADD COLUMN uid VARCHAR DEFAULT (gen_random_uuid()::VARCHAR);
ALTER TABLE calibrations ADD COLUMN pushed TIMESTAMP;
ALTER TABLE hotspots ADD COLUMN uid VARCHAR DEFAULT (gen_random_uuid()::VARCHAR);
ALTER TABLE hotspots ADD COLUMN pushed TIMESTAMP;

UPDATE sessions SET machine =
    coalesce(json_extract_string(fingerprint, '$.host'), host, '?') || '/' ||
    substr(md5(coalesce(json_extract_string(fingerprint, '$.cpu_model'), '') || '|' ||
               coalesce(json_extract_string(fingerprint, '$.cores'), '')), 1, 8);
