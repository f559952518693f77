-- A group the pool deleted (a DeleteGroup event, once the caller found the group gone; or the reconcile, for a
-- group its complete ListGroups did not list): its memberships go, and the deletion is remembered, so that a
-- group list read before it and delivered after it does not bring the group back (sync.set_user_groups,
-- sync.apply_group_members). A group made again under the same name is written by any read after p_read_at.
--   p_group    the group (1 to 128 characters)
--   p_read_at  when the caller found the group gone from the pool
-- A membership seen after p_read_at (the group was made again and the user added since) stays. Returns how
-- many memberships were removed; 0 for a group nobody was in, and for a repeated call.
-- Refused, nothing written: a NULL argument (22004); a bad group name (22023); p_read_at more than 5 minutes
-- ahead of the database clock (SY002, read_at_ahead).

CREATE OR REPLACE FUNCTION sync.delete_group(p_group text, p_read_at timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF p_group IS NULL OR p_read_at IS NULL THEN
    RAISE EXCEPTION 'sync.delete_group needs a group and read_at' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF pg_catalog.length(p_group) NOT BETWEEN 1 AND 128 THEN
    RAISE EXCEPTION 'a group name is 1 to 128 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_read_at > pg_catalog.clock_timestamp() + interval '5 minutes' THEN
    RAISE EXCEPTION 'read_at % is more than 5 minutes ahead of the database clock', p_read_at USING ERRCODE = 'SY002';
  END IF;
  INSERT INTO sync.deleted_groups AS d (group_name, deleted_at) VALUES (p_group, p_read_at)
    ON CONFLICT (group_name) DO UPDATE SET deleted_at = EXCLUDED.deleted_at WHERE d.deleted_at < EXCLUDED.deleted_at;
  -- The members' rows are locked in sub order first, as every membership writer locks them.
  RETURN sync.remove_group_members(p_group, p_read_at);
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.delete_group(text, timestamptz) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.delete_group(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.delete_group(text, timestamptz) TO sync_writer;
GRANT EXECUTE ON FUNCTION sync.delete_group(text, timestamptz) TO user_reconciler;
