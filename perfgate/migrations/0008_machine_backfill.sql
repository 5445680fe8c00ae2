-- 0008: `machine` for the sessions stored before 0007 (the same string as store.machine_of()).
-- Its own migration: DuckDB 1.5 refuses to update a table in the transaction that altered it.
-- Append-only: add 0009_*.sql, never edit.
UPDATE sessions SET machine =
    coalesce(json_extract_string(fingerprint, '$.host'), host, '?') || '/' ||
    substr(md5(coalesce(json_extract_string(fingerprint, '$.cpu_model'), '') || '|' ||
               coalesce(json_extract_string(fingerprint, '$.cores'), '')), 1, 8);
