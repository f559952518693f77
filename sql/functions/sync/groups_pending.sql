-- The run whose groups phase is to do, with the last group its scan finished: the newest run, when it is complete
-- (its users pages all written) and its groups phase is not done. No row when the newest run is still open (its
-- own groups phase comes after its last page) or done. A newer run supersedes an older run's groups phase.

CREATE OR REPLACE FUNCTION sync.groups_pending()
RETURNS TABLE (run_id bigint, groups_after text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RETURN QUERY
    SELECT r.id, r.groups_after
      FROM (SELECT * FROM sync.reconcile_runs AS n ORDER BY n.id DESC LIMIT 1) AS r
     WHERE r.completed_at IS NOT NULL AND r.groups_done_at IS NULL;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.groups_pending() OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the reconcile keeps it.
REVOKE EXECUTE ON FUNCTION sync.groups_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.groups_pending() TO user_reconciler;
