-- The reconcile's writer of memberships: one page of a group's members as the pool lists them (ListUsersInGroup,
-- at most 60 users a page), in one round trip. Adds the group to each listed user; it removes nobody: after the
-- group's last page, sync.end_group_members removes the members no page listed.
--   p_group    the group (1 to 128 characters)
--   p_subs     the subs of the page's users (duplicates count once; at most 60)
--   p_read_at  when the caller read the page: it becomes the membership's seen_at
-- Rows come back in sub order, the order their rows are locked in (as sync.apply_users does), so overlapping
-- writers wait rather than deadlock. outcome: 'added' (a new membership); 'unchanged' (already a member; seen_at
-- moves forward); 'stale' (the user's whole group list was read after this page, or the group was deleted at or
-- after p_read_at: nothing written for the user); 'no_user' (no row for the sub: the user is not written yet, or
-- not confirmed); 'erased' (erased or anonymized: nothing written).
-- Refused as a whole, nothing written: a NULL argument (22004); a bad group name (22023); more than 60 subs
-- (54000); p_read_at more than 5 minutes ahead of the database clock (SY002, read_at_ahead).

CREATE OR REPLACE FUNCTION sync.apply_group_members(p_group text, p_subs text[], p_read_at timestamptz)
RETURNS TABLE (cognito_user_id text, outcome text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  v_subs text[];
  v_locked bigint;
BEGIN
  IF p_group IS NULL OR p_subs IS NULL OR p_read_at IS NULL OR pg_catalog.array_position(p_subs, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'sync.apply_group_members needs a group, subs (none NULL) and read_at'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF pg_catalog.length(p_group) NOT BETWEEN 1 AND 128 THEN
    RAISE EXCEPTION 'a group name is 1 to 128 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_subs := ARRAY(SELECT DISTINCT x.sub FROM pg_catalog.unnest(p_subs) AS x(sub) ORDER BY x.sub);
  IF pg_catalog.cardinality(v_subs) > 60 THEN
    RAISE EXCEPTION 'sync.apply_group_members takes at most 60 subs, got %', pg_catalog.cardinality(v_subs)
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF p_read_at > pg_catalog.clock_timestamp() + interval '5 minutes' THEN
    RAISE EXCEPTION 'read_at % is more than 5 minutes ahead of the database clock', p_read_at USING ERRCODE = 'SY002';
  END IF;

  -- The page's rows, locked in sub order before anything is decided on them.
  SELECT pg_catalog.count(*) INTO v_locked FROM (
    SELECT 1 FROM public.users AS u WHERE u.cognito_user_id = ANY (v_subs) ORDER BY u.cognito_user_id FOR UPDATE
  ) AS locked;

  RETURN QUERY
    WITH j AS (
      SELECT x.sub, x.k, u.uuid, u.deleted_at, u.groups_synced_at,
             EXISTS (SELECT 1 FROM public.user_groups AS g WHERE g.user_uuid = u.uuid AND g.group_name = p_group) AS member
        FROM pg_catalog.unnest(v_subs) WITH ORDINALITY AS x(sub, k)
        LEFT JOIN public.users AS u ON u.cognito_user_id = x.sub
    ), decided AS (
      SELECT j.*,
             CASE
               WHEN j.uuid IS NULL THEN
                 CASE WHEN EXISTS (SELECT 1 FROM sync.erased_users AS e WHERE e.cognito_user_id = j.sub)
                   THEN 'erased' ELSE 'no_user' END
               WHEN j.deleted_at IS NOT NULL THEN 'erased'
               WHEN j.groups_synced_at > p_read_at
                 OR EXISTS (SELECT 1 FROM sync.deleted_groups AS d WHERE d.group_name = p_group AND d.deleted_at >= p_read_at)
                 THEN 'stale'
               WHEN j.member THEN 'unchanged'
               ELSE 'added'
             END AS decision
        FROM j
    ), written AS (
      INSERT INTO public.user_groups AS g (user_uuid, group_name, seen_at)
        SELECT d.uuid, p_group, p_read_at FROM decided AS d WHERE d.decision IN ('added', 'unchanged') ORDER BY d.sub
        ON CONFLICT (user_uuid, group_name) DO UPDATE SET seen_at = EXCLUDED.seen_at WHERE g.seen_at < EXCLUDED.seen_at
    )
    SELECT d.sub, d.decision FROM decided AS d ORDER BY d.k;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.apply_group_members(text, text[], timestamptz) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the reconcile keeps it.
REVOKE EXECUTE ON FUNCTION sync.apply_group_members(text, text[], timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.apply_group_members(text, text[], timestamptz) TO user_reconciler;
