-- Rows the complete run did not see: the subs after p_after_sub, in order, at most p_max (1-1000). Only rows
-- created before the run started (one created during the run may have been added to the pool behind the
-- run's position) and not already anonymized. Refused for a run that is not complete (it has not seen the
-- whole pool) or that a newer run has superseded (the newer run's marks replace its own, so every user would
-- look unseen). The caller re-checks each candidate against the pool (ListUsers by sub) before sync.erase_user.

CREATE OR REPLACE FUNCTION sync.prune_candidates(p_run_id bigint, p_after_sub text, p_max integer) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_run record;
BEGIN
  IF p_max IS NULL OR p_max < 1 OR p_max > 1000 THEN
    RAISE EXCEPTION 'p_max must be 1 to 1000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT r.started_at, r.completed_at INTO v_run FROM sync.reconcile_runs AS r WHERE r.id = p_run_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no reconcile run %', p_run_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_run.completed_at IS NULL THEN
    RAISE EXCEPTION 'reconcile run % is not complete: it has not seen the whole pool', p_run_id
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF EXISTS (SELECT 1 FROM sync.reconcile_runs AS r WHERE r.id > p_run_id) THEN
    RAISE EXCEPTION 'reconcile run % is superseded by a newer run', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN QUERY
    SELECT u.cognito_user_id FROM public.users AS u
     WHERE u.cognito_user_id > coalesce(p_after_sub, '')
       AND u.reconcile_run IS DISTINCT FROM p_run_id
       AND u.created_at < v_run.started_at
       AND u.deleted_at IS NULL
     ORDER BY u.cognito_user_id
     LIMIT p_max;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.prune_candidates(bigint, text, integer) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.prune_candidates(bigint, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.prune_candidates(bigint, text, integer) TO user_reconciler;
