-- After pruning: how many users the run's prune erased, for the run's record.

CREATE OR REPLACE FUNCTION sync.record_prune(p_run_id bigint, p_pruned bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  UPDATE sync.reconcile_runs AS r SET pruned = r.pruned + p_pruned, pruned_at = pg_catalog.now()
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
ALTER FUNCTION sync.record_prune(bigint, bigint) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.record_prune(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.record_prune(bigint, bigint) TO user_reconciler;
