-- Internal to sync.delete_group and sync.end_group_members, which check their arguments first: removes the
-- memberships of p_group seen before p_seen_before and returns how many went. The users' rows are locked in sub
-- order before their memberships are removed, as every membership writer does, so two writers never deadlock.

CREATE OR REPLACE FUNCTION sync.remove_group_members(p_group text, p_seen_before timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_locked bigint;
  v_removed bigint;
BEGIN
  SELECT pg_catalog.count(*) INTO v_locked FROM (
    SELECT 1 FROM public.users AS u
      JOIN public.user_groups AS g ON g.user_uuid = u.uuid
     WHERE g.group_name = p_group AND g.seen_at < p_seen_before
     ORDER BY u.cognito_user_id FOR UPDATE OF u
  ) AS locked;
  DELETE FROM public.user_groups AS g WHERE g.group_name = p_group AND g.seen_at < p_seen_before;
  GET DIAGNOSTICS v_removed = ROW_COUNT;
  RETURN v_removed;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.remove_group_members(text, timestamptz) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC; only its callers, which run as its owner, use it.
REVOKE EXECUTE ON FUNCTION sync.remove_group_members(text, timestamptz) FROM PUBLIC;
