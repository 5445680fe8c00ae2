-- 0007: which machine measured the session, "<host or $PERFGATE_MACHINE>/<8 hex of the CPU
-- model and core count>", so history never pools two machines by accident; store.machine_of()
-- computes it for new sessions, 0008 for those stored before. Append-only: add 0009_*.sql.
ALTER TABLE sessions ADD COLUMN machine VARCHAR;
