-- The groups phase's progress: p_group's members are all written (sync.apply_group_members pages, then
-- sync.end_group_members), so a resumed phase starts after it. p_group NULL: every group is scanned and the
-- groups the pool no longer has are deleted (sync.prune_groups): the phase is done.
-- Refused for a run whose users pages are not all written (55000): its groups phase has not begun.

CREATE OR REPLACE FUNCTION sync.record_group_scan(p_run_id bigint, p_group text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF p_run_id IS NULL THEN
    RAISE EXCEPTION 'sync.record_group_scan needs a run' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF p_group IS NOT NULL AND pg_catalog.length(p_group) NOT BETWEEN 1 AND 128 THEN
    RAISE EXCEPTION 'a group name is 1 to 128 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE sync.reconcile_runs AS r
     SET groups_after = coalesce(p_group, r.groups_after),
         groups_done_at = CASE WHEN p_group IS NULL THEN pg_catalog.now() ELSE r.groups_done_at END
   WHERE r.id = p_run_id AND r.completed_at IS NOT NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'reconcile run % is not complete', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.record_group_scan(bigint, text) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the reconcile keeps it.
REVOKE EXECUTE ON FUNCTION sync.record_group_scan(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.record_group_scan(bigint, text) TO user_reconciler;
