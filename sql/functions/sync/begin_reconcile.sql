-- Starts a reconcile run, or resumes the open one (with the token of the page to read next): at most one run
-- is open (reconcile_runs_one_open), so two overlapping invocations share it.

CREATE OR REPLACE FUNCTION sync.begin_reconcile()
RETURNS TABLE (run_id bigint, started_at timestamptz, pagination_token text, pages integer, scanned bigint, resumed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  -- A concurrent begin waits on the one-open-run index and then resumes the run the other one started.
  RETURN QUERY
    INSERT INTO sync.reconcile_runs AS r DEFAULT VALUES ON CONFLICT DO NOTHING
    RETURNING r.id, r.started_at, r.pagination_token, r.pages, r.scanned, false;
  IF NOT FOUND THEN
    RETURN QUERY
      SELECT r.id, r.started_at, r.pagination_token, r.pages, r.scanned, true
        FROM sync.reconcile_runs AS r WHERE r.completed_at IS NULL;
  END IF;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.begin_reconcile() OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.begin_reconcile() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.begin_reconcile() TO user_reconciler;
