-- What a prune of the complete run would erase, before it erases anything: candidates, the rows the run did not
-- see (all of sync.unseen_by_run, from which sync.prune_candidates pages), and table_rows, the rows not
-- anonymized, for the brake's limit max(10, ceil(1% of table_rows)). Refused, as sync.unseen_by_run is, for a
-- run that does not exist, is not complete or that a newer run has superseded.

CREATE OR REPLACE FUNCTION sync.prune_summary(p_run_id bigint)
RETURNS TABLE (candidates bigint, table_rows bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  -- One statement, one snapshot: both counts describe the same rows.
  RETURN QUERY
    SELECT (SELECT pg_catalog.count(*) FROM sync.unseen_by_run(p_run_id, NULL)),
           (SELECT pg_catalog.count(*) FROM public.users AS u WHERE u.deleted_at IS NULL);
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
