-- The reconcile's end of the group scan: every group the table holds memberships of that the pool's complete
-- ListGroups did not list is deleted as by sync.delete_group (memberships seen before p_read_at go, the deletion
-- is remembered). The caller passes the complete list only: an empty one means the pool has no groups at all,
-- and every membership seen before p_read_at goes.
--   p_pool_groups  every group name ListGroups returned, all pages
--   p_read_at      when the caller asked for ListGroups' first page (before it)
-- Returns one row per group deleted, in name order, with how many memberships went.
-- Refused, nothing written: a NULL argument or a NULL name (22004); p_read_at more than 5 minutes ahead of the
-- database clock (SY002, read_at_ahead).

CREATE OR REPLACE FUNCTION sync.prune_groups(p_pool_groups text[], p_read_at timestamptz)
RETURNS TABLE (group_name text, removed bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  v_group text;
BEGIN
  IF p_pool_groups IS NULL OR p_read_at IS NULL OR pg_catalog.array_position(p_pool_groups, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'sync.prune_groups needs the pool''s group names (none NULL) and read_at'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF p_read_at > pg_catalog.clock_timestamp() + interval '5 minutes' THEN
    RAISE EXCEPTION 'read_at % is more than 5 minutes ahead of the database clock', p_read_at USING ERRCODE = 'SY002';
  END IF;
  FOR v_group IN
    SELECT DISTINCT g.group_name FROM public.user_groups AS g
     WHERE g.group_name <> ALL (p_pool_groups) AND g.seen_at < p_read_at
     ORDER BY g.group_name
  LOOP
    RETURN QUERY SELECT v_group, sync.delete_group(v_group, p_read_at);
  END LOOP;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.prune_groups(text[], timestamptz) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the reconcile keeps it.
REVOKE EXECUTE ON FUNCTION sync.prune_groups(text[], timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.prune_groups(text[], timestamptz) TO user_reconciler;
