-- 0005-0008: what a shared store needs (issue 17). Append-only: add 0009_*.sql, never edit.
-- One ALTER per table per migration: DuckDB 1.5 refuses to commit a transaction that altered a
-- stored table twice ("another transaction has altered this table").
--
-- uid: a globally unique id per row that leaves this machine, so a push is idempotent (the
-- shared store derives its own ids from it and never holds a session twice).
ALTER TABLE sessions ADD COLUMN uid VARCHAR DEFAULT (gen_random_uuid()::VARCHAR);
ALTER TABLE comparisons ADD COLUMN uid VARCHAR DEFAULT (gen_random_uuid()::VARCHAR);
ALTER TABLE decisions ADD COLUMN uid VARCHAR DEFAULT (gen_random_uuid()::VARCHAR);
ALTER TABLE calibrations ADD COLUMN uid VARCHAR DEFAULT (gen_random_uuid()::VARCHAR);
ALTER TABLE hotspots ADD COLUMN uid VARCHAR DEFAULT (gen_random_uuid()::VARCHAR);
