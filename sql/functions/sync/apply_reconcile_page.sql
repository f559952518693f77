-- One page of a run: sync.apply_users with the run, then the run's counts and the token of the next page, in
-- the same transaction as the writes. p_page_token: the token this page was read with (NULL for the first); a
-- page read from a token the run has already moved past (two invocations at once) is refused, nothing
-- written. p_next_token NULL: this was the last page, and the run is complete.

CREATE OR REPLACE FUNCTION sync.apply_reconcile_page(p_run_id bigint, p_page_token text, p_users jsonb, p_next_token text)
RETURNS TABLE (cognito_user_id text, outcome text, error_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_run record;
  v_result record;
  v_counts bigint[] := '{0,0,0,0,0,0,0,0,0}';
  v_slot integer;
BEGIN
  -- The row lock makes a concurrent page of the same run wait, and then see that the token moved.
  SELECT r.pagination_token, r.completed_at INTO v_run FROM sync.reconcile_runs AS r WHERE r.id = p_run_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no reconcile run %', p_run_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_run.completed_at IS NOT NULL THEN
    RAISE EXCEPTION 'reconcile run % is complete', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF v_run.pagination_token IS DISTINCT FROM p_page_token THEN
    RAISE EXCEPTION 'reconcile run % has moved past this page', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  FOR v_result IN SELECT a.cognito_user_id AS sub, a.outcome AS outcome, a.error_code AS code FROM sync.apply_users(p_users, p_run_id) AS a LOOP
    v_slot := pg_catalog.array_position(
      ARRAY['inserted', 'updated', 'updated_handle_conflict', 'unchanged', 'stale', 'seen', 'erased', 'refused'], v_result.outcome);
    v_counts[v_slot] := v_counts[v_slot] + 1;
    cognito_user_id := v_result.sub;
    outcome := v_result.outcome;
    error_code := v_result.code;
    RETURN NEXT;
  END LOOP;
  UPDATE sync.reconcile_runs AS r
     SET pagination_token = p_next_token,
         pages = r.pages + 1,
         scanned = r.scanned + pg_catalog.jsonb_array_length(p_users),
         inserted = r.inserted + v_counts[1],
         -- A user whose handle stayed is updated all the same; handle_conflicts says how many of them.
         updated = r.updated + v_counts[2] + v_counts[3],
         handle_conflicts = r.handle_conflicts + v_counts[3],
         unchanged = r.unchanged + v_counts[4],
         stale = r.stale + v_counts[5],
         seen = r.seen + v_counts[6],
         erased = r.erased + v_counts[7],
         refused = r.refused + v_counts[8],
         completed_at = CASE WHEN p_next_token IS NULL THEN pg_catalog.now() END
   WHERE r.id = p_run_id;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.apply_reconcile_page(bigint, text, jsonb, text) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.apply_reconcile_page(bigint, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.apply_reconcile_page(bigint, text, jsonb, text) TO user_reconciler;
