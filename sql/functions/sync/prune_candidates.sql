-- Rows the complete run did not see (the rule and the refusals of sync.unseen_by_run): the subs after
-- p_after_sub, in order, at most p_max (1-1000). The caller re-checks each candidate against the pool
-- (ListUsers by sub) before sync.erase_user.

CREATE OR REPLACE FUNCTION sync.prune_candidates(p_run_id bigint, p_after_sub text, p_max integer) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF p_max IS NULL OR p_max < 1 OR p_max > 1000 THEN
    RAISE EXCEPTION 'p_max must be 1 to 1000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT unseen.sub FROM sync.unseen_by_run(p_run_id, p_after_sub) AS unseen (sub)
     ORDER BY unseen.sub
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
