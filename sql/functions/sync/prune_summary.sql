-- What a prune of the complete run would erase, before it erases anything: candidates, the rows the run did not
-- see (the rule of sync.prune_candidates: created before the run started, not anonymized), and table_rows, the
-- rows not anonymized, for the brake's limit max(10, ceil(1% of table_rows)). Refused, as prune_candidates is,
-- for a run that is not complete or that a newer run has superseded.

CREATE OR REPLACE FUNCTION sync.prune_summary(p_run_id bigint)
RETURNS TABLE (candidates bigint, table_rows bigint)
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
    SELECT pg_catalog.count(*) FILTER (
             WHERE u.reconcile_run IS DISTINCT FROM p_run_id AND u.created_at < v_run.started_at),
           pg_catalog.count(*)
      FROM public.users AS u
     WHERE u.deleted_at IS NULL;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.prune_summary(bigint) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.prune_summary(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.prune_summary(bigint) TO user_reconciler;
