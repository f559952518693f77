-- The reconcile's groups phase (after the users pages of a complete run: ListGroups, then each group's members)
-- as part of the run's record, so that a run whose groups phase an invocation left unfinished is resumed by the
-- next one. Only the name of the last group whose scan finished is kept: a group whose scan was cut short is
-- read again from its first page, which the membership functions make safe.
--   groups_after    the last group (in the reconcile's order of names) whose members were all written; NULL:
--                   none yet
--   groups_done_at  when the groups phase finished (every group scanned, the groups the pool no longer has
--                   deleted); NULL while it is to do
ALTER TABLE sync.reconcile_runs ADD COLUMN groups_after text;
ALTER TABLE sync.reconcile_runs ADD COLUMN groups_done_at timestamptz;

-- Runs complete before this migration have no groups phase to resume: the next run's phase covers every group.
UPDATE sync.reconcile_runs SET groups_done_at = completed_at WHERE completed_at IS NOT NULL;
