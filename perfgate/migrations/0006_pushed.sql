-- 0006: when each row reached the shared store (NULL: not yet); local bookkeeping of push.
-- Append-only: add 0009_*.sql, never edit.
ALTER TABLE sessions ADD COLUMN pushed TIMESTAMP;
ALTER TABLE comparisons ADD COLUMN pushed TIMESTAMP;
ALTER TABLE decisions ADD COLUMN pushed TIMESTAMP;
ALTER TABLE calibrations ADD COLUMN pushed TIMESTAMP;
ALTER TABLE hotspots ADD COLUMN pushed TIMESTAMP;
