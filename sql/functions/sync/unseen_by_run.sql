-- Internal to sync.prune_candidates and sync.prune_summary, so that the brake counts exactly the rows a prune
-- would erase: the rows the complete run p_run_id did not see, their subs after p_after_sub (NULL: from the
-- first), in order. Only rows created before the run started (one created during the run may have been added
-- to the pool behind the run's position) and not already anonymized. Refused for a run that does not exist
-- (22023), that is not complete (it has not seen the whole pool) or that a newer run has superseded (the newer
-- run's marks replace its own, so every user would look unseen) (both 55000).

CREATE OR REPLACE FUNCTION sync.unseen_by_run(p_run_id bigint, p_after_sub text) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_run record;
BEGIN
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
     ORDER BY u.cognito_user_id;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.unseen_by_run(bigint, text) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC; only its callers, which run as its owner, use it.
REVOKE EXECUTE ON FUNCTION sync.unseen_by_run(bigint, text) FROM PUBLIC;
