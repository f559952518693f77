-- The end of a reconcile's scan of one group: after its last ListUsersInGroup page went through
-- sync.apply_group_members, the memberships of the group that no page of the scan listed go.
--   p_group            the group
--   p_scan_started_at  when the caller asked for the scan's first page (before it): every page of the scan was
--                      read at or after it, so a membership seen before it was not listed by this scan
-- A membership seen at or after p_scan_started_at stays, whoever saw it (a page, or a user's group list that
-- the event path read meanwhile). Returns how many memberships were removed.
-- Refused, nothing written: a NULL argument (22004); p_scan_started_at more than 5 minutes ahead of the
-- database clock (SY002, read_at_ahead).
-- The users' rows are locked in sub order before their memberships are removed, as every membership writer does.

CREATE OR REPLACE FUNCTION sync.end_group_members(p_group text, p_scan_started_at timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF p_group IS NULL OR p_scan_started_at IS NULL THEN
    RAISE EXCEPTION 'sync.end_group_members needs a group and the time the scan started'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF p_scan_started_at > pg_catalog.clock_timestamp() + interval '5 minutes' THEN
    RAISE EXCEPTION 'read_at % is more than 5 minutes ahead of the database clock', p_scan_started_at
      USING ERRCODE = 'SY002';
  END IF;
  RETURN sync.remove_group_members(p_group, p_scan_started_at);
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.end_group_members(text, timestamptz) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the reconcile keeps it.
REVOKE EXECUTE ON FUNCTION sync.end_group_members(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.end_group_members(text, timestamptz) TO user_reconciler;
