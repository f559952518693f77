-- The event path's writer of memberships: the user's whole group list as the pool holds it (AdminListGroupsForUser,
-- read after an AdminAddUserToGroup or AdminRemoveUserFromGroup event, which are hints: the list is read again,
-- never taken from the event). One round trip, one user.
--   p_sub      the user's sub
--   p_groups   every group the pool lists for the user ('{}' for none; duplicates count once); 1 to 128 characters each
--   p_read_at  when the caller read that list from the pool: the order key (users.groups_synced_at)
-- The list replaces the user's memberships when p_read_at is newer than the last list written, so duplicate and
-- out-of-order delivery converge on the latest list, as attributes do with synced_at. Two refinements keep newer
-- evidence: a membership seen later than p_read_at (a reconcile page of that group) is not removed, and a group
-- the pool deleted at or after p_read_at (sync.deleted_groups) is not added back.
-- outcome: 'updated' (a membership was added or removed); 'unchanged' (the list is what the table holds, or this
-- exact list was written already); 'stale' (a list read later is written: nothing written); 'no_user' (the table
-- has no row for the sub yet: write the user first, e.g. sync.apply_users, then call again); 'erased' (erased or
-- anonymized: nothing written, and nothing ever will be).
-- Refused, nothing written: a NULL argument (22004); a group name that is empty or longer than 128 characters
-- (22023); p_read_at more than 5 minutes ahead of the database clock (SY002, read_at_ahead).
-- Locks the user's row (FOR UPDATE) before touching memberships, as every membership writer does.

CREATE OR REPLACE FUNCTION sync.set_user_groups(p_sub text, p_groups text[], p_read_at timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_user record;
  v_groups text[];
  v_had text[];
  v_removed bigint;
BEGIN
  IF p_sub IS NULL OR p_groups IS NULL OR p_read_at IS NULL THEN
    RAISE EXCEPTION 'sync.set_user_groups needs a sub, a group list (empty for none) and read_at'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.unnest(p_groups) AS x(name)
              WHERE x.name IS NULL OR pg_catalog.length(x.name) NOT BETWEEN 1 AND 128) THEN
    RAISE EXCEPTION 'a group name is 1 to 128 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- A clock far ahead would win every later write; the database's clock is the reference.
  IF p_read_at > pg_catalog.clock_timestamp() + interval '5 minutes' THEN
    RAISE EXCEPTION 'read_at % is more than 5 minutes ahead of the database clock', p_read_at USING ERRCODE = 'SY002';
  END IF;

  SELECT u.uuid, u.deleted_at, u.groups_synced_at INTO v_user
    FROM public.users AS u WHERE u.cognito_user_id = p_sub FOR UPDATE;
  IF NOT FOUND THEN
    RETURN CASE WHEN EXISTS (SELECT 1 FROM sync.erased_users AS e WHERE e.cognito_user_id = p_sub)
      THEN 'erased' ELSE 'no_user' END;
  END IF;
  IF v_user.deleted_at IS NOT NULL THEN
    RETURN 'erased';
  END IF;

  v_groups := ARRAY(
    SELECT DISTINCT x.name FROM pg_catalog.unnest(p_groups) AS x(name)
     WHERE NOT EXISTS (SELECT 1 FROM sync.deleted_groups AS d WHERE d.group_name = x.name AND d.deleted_at >= p_read_at)
     ORDER BY x.name);
  v_had := ARRAY(SELECT g.group_name FROM public.user_groups AS g WHERE g.user_uuid = v_user.uuid ORDER BY g.group_name);
  IF v_user.groups_synced_at > p_read_at OR (v_user.groups_synced_at = p_read_at AND v_had <> v_groups) THEN
    RETURN 'stale';
  ELSIF v_user.groups_synced_at = p_read_at THEN
    RETURN 'unchanged';
  END IF;

  DELETE FROM public.user_groups AS g
   WHERE g.user_uuid = v_user.uuid AND g.group_name <> ALL (v_groups) AND g.seen_at < p_read_at;
  GET DIAGNOSTICS v_removed = ROW_COUNT;
  INSERT INTO public.user_groups AS g (user_uuid, group_name, seen_at)
    SELECT v_user.uuid, x.name, p_read_at FROM pg_catalog.unnest(v_groups) AS x(name)
    ON CONFLICT (user_uuid, group_name) DO UPDATE SET seen_at = EXCLUDED.seen_at WHERE g.seen_at < EXCLUDED.seen_at;
  -- The order key moves even when nothing else changes: an older list read in between must not win later.
  UPDATE public.users AS u SET groups_synced_at = p_read_at WHERE u.uuid = v_user.uuid;
  RETURN CASE WHEN v_removed > 0 OR NOT (v_groups <@ v_had) THEN 'updated' ELSE 'unchanged' END;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.set_user_groups(text, text[], timestamptz) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.set_user_groups(text, text[], timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.set_user_groups(text, text[], timestamptz) TO sync_writer;
GRANT EXECUTE ON FUNCTION sync.set_user_groups(text, text[], timestamptz) TO user_reconciler;
