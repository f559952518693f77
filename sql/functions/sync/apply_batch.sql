-- Internal to sync.apply_users: a batch of distinct users, sorted by sub, written with a few statements for the
-- whole batch rather than a few for each user. Returns the outcomes in the batch's order (those of
-- sync.apply_users but 'refused'). Raises when the database refuses any user (a value that does not parse, a
-- constraint, a value too large for an index); sync.apply_users then writes the batch user by user.

CREATE OR REPLACE FUNCTION sync.apply_batch(p_users jsonb[], p_run_id bigint, p_depth integer) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
-- A batch is at most 60 users, each found by a unique key: nested loops over the indexes are the right plan at
-- any table size. Left to costs, a plan cached while the table was small (the first pages of the first run)
-- scans it, and goes on scanning it whole for every batch after it has grown, until the next ANALYZE.
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $fn$
DECLARE
  v_in sync.user_state[];
  v_outcomes text[];
  v_inserted text[];
  v_user sync.user_state;
  v_result text;
  v_present bigint;
  v_bucket integer;
BEGIN
  IF coalesce(pg_catalog.cardinality(p_users), 0) = 0 THEN
    RETURN '{}'::text[];
  END IF;
  SELECT pg_catalog.array_agg(ROW(
      e.value ->> 'sub', e.value ->> 'email', e.value ->> 'name', e.value ->> 'handle',
      CASE WHEN pg_catalog.jsonb_typeof(e.value -> 'handle_candidates') = 'array'
        THEN ARRAY(SELECT c.value FROM pg_catalog.jsonb_array_elements_text(e.value -> 'handle_candidates') WITH ORDINALITY AS c(value, n) ORDER BY c.n)
        ELSE ARRAY[e.value ->> 'handle'] END,
      (e.value ->> 'enabled')::boolean, (e.value ->> 'modified_at')::timestamptz, (e.value ->> 'read_at')::timestamptz,
      coalesce((e.value ->> 'seen_only')::boolean, false))::sync.user_state ORDER BY e.k)
    INTO v_in FROM pg_catalog.unnest(p_users) WITH ORDINALITY AS e(value, k);
  IF EXISTS (SELECT 1 FROM pg_catalog.unnest(v_in) AS i WHERE i.sub IS NULL OR (i.read_at IS NULL AND NOT i.seen_only)) THEN
    RAISE EXCEPTION 'a user state needs a sub, and read_at unless seen_only' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- A state stamped in the future would make every later, true state look stale. sync.apply_users catches this
  -- like any refusal of one user: the batch is written user by user and only this one is refused.
  IF EXISTS (SELECT 1 FROM pg_catalog.unnest(v_in) AS i WHERE i.read_at > pg_catalog.clock_timestamp() + interval '5 minutes') THEN
    RAISE EXCEPTION 'a read_at is more than 5 minutes ahead of the database clock' USING ERRCODE = 'SY002';
  END IF;

  -- One lock order for every writer: the advisory buckets of the batch's subs (shared, sorted), then the rows
  -- (sorted by sub). sync.erase_user takes its sub's bucket exclusively before its row; if a batch locked a
  -- row first and met the bucket only when its insert trigger fired, a batch and an erasure could each hold
  -- what the other waits for. The insert trigger's own shared lock is then one the batch already holds.
  FOR v_bucket IN SELECT DISTINCT pg_catalog.hashtext(i.sub) & 15 FROM pg_catalog.unnest(v_in) AS i ORDER BY 1 LOOP
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(3, v_bucket);
  END LOOP;

  -- Lock the rows the batch has, in sub order, before deciding on them: nobody changes them until commit.
  SELECT pg_catalog.count(*) INTO v_present FROM (
    SELECT 1 FROM public.users AS u WHERE u.cognito_user_id = ANY (ARRAY(SELECT i.sub FROM pg_catalog.unnest(v_in) AS i))
     ORDER BY u.cognito_user_id FOR UPDATE
  ) AS locked;

  -- Every user the table has: its outcome, and one UPDATE for the states to write and the runs to mark. NULL
  -- outcome: absent, to insert below. A batch of new users only (the first run, a bulk import) skips it.
  IF v_present = 0 THEN
    v_outcomes := ARRAY(SELECT CASE WHEN i.seen_only THEN 'seen' END FROM pg_catalog.unnest(v_in) AS i);
  ELSE
    WITH i AS (
      SELECT s.* FROM pg_catalog.unnest(v_in) WITH ORDINALITY
        AS s(sub, email, display_name, handle, handle_candidates, enabled, modified_at, read_at, seen_only, k)
    ), j AS (
      SELECT i.*, u.uuid, u.synced_at, u.deleted_at, u.reconcile_run,
             u.synced_at IS NULL OR u.synced_at < i.read_at AS newer,
             (u.email, u.display_name, u.enabled) IS NOT DISTINCT FROM (i.email, i.display_name, i.enabled)
               AND (i.handle IS NULL OR i.handle = u.handle) AS same,
             i.handle IS NOT NULL AND i.handle IS DISTINCT FROM u.handle AS wants_handle
        FROM i LEFT JOIN public.users AS u ON u.cognito_user_id = i.sub
    ), d AS (
      SELECT j.*,
             j.uuid IS NOT NULL AND j.deleted_at IS NULL AND NOT j.seen_only AND j.newer AS write,
             p_run_id IS NOT NULL AND j.uuid IS NOT NULL AND j.deleted_at IS NULL
               AND j.reconcile_run IS DISTINCT FROM p_run_id AS mark
        FROM j
    ), e AS (
      SELECT d.*,
             -- The handle follows the pool only to a handle no OTHER user holds, ignoring case.
             CASE WHEN d.write AND d.wants_handle
               THEN EXISTS (SELECT 1 FROM public.users AS o WHERE pg_catalog.lower(o.handle) = pg_catalog.lower(d.handle) AND o.uuid <> d.uuid)
               ELSE false END AS handle_taken
        FROM d
    ), decided AS (
      SELECT e.*,
             CASE
               WHEN e.uuid IS NULL THEN CASE WHEN e.seen_only THEN 'seen' END
               WHEN e.deleted_at IS NOT NULL THEN 'erased'
               WHEN e.seen_only THEN 'seen'
               WHEN NOT e.newer THEN CASE WHEN e.synced_at = e.read_at AND e.same THEN 'unchanged' ELSE 'stale' END
               WHEN e.handle_taken THEN 'updated_handle_conflict'
               WHEN e.same THEN 'unchanged'
               ELSE 'updated'
             END AS outcome
        FROM e
    ), written AS (
      -- synced_at moves even when nothing else changes: an older state read in between (A, then B, then A
      -- again) must not win later. A stale, seen or unchanged user is only marked as seen by the run.
      UPDATE public.users AS u
         SET email = CASE WHEN x.write THEN x.email ELSE u.email END,
             display_name = CASE WHEN x.write THEN x.display_name ELSE u.display_name END,
             handle = CASE WHEN x.write AND x.wants_handle AND NOT x.handle_taken THEN x.handle ELSE u.handle END,
             enabled = CASE WHEN x.write THEN x.enabled ELSE u.enabled END,
             pool_modified_at = CASE WHEN x.write THEN x.modified_at ELSE u.pool_modified_at END,
             synced_at = CASE WHEN x.write THEN x.read_at ELSE u.synced_at END,
             reconcile_run = coalesce(p_run_id, u.reconcile_run)
        FROM decided AS x
       WHERE u.uuid = x.uuid AND (x.write OR x.mark)
    )
    SELECT pg_catalog.array_agg(x.outcome ORDER BY x.k) INTO v_outcomes FROM decided AS x;
  END IF;

  IF pg_catalog.array_position(v_outcomes, NULL) IS NULL THEN
    RETURN v_outcomes;
  END IF;
  -- The absent users in one INSERT with their first candidate; the few it skips (handle taken, tombstoned,
  -- inserted meanwhile by someone else) go one at a time through insert_user.
  WITH inserted AS (
    INSERT INTO public.users (cognito_user_id, email, display_name, handle, enabled, pool_modified_at, synced_at, reconcile_run)
    SELECT i.sub, i.email, i.display_name, i.handle_candidates[1], i.enabled, i.modified_at, i.read_at, p_run_id
      FROM pg_catalog.unnest(v_in) WITH ORDINALITY AS i(sub, email, display_name, handle, handle_candidates, enabled, modified_at, read_at, seen_only, k)
     WHERE v_outcomes[i.k] IS NULL
     ORDER BY i.sub
    ON CONFLICT DO NOTHING
    RETURNING cognito_user_id
  )
  SELECT coalesce(pg_catalog.array_agg(inserted.cognito_user_id), '{}') INTO v_inserted FROM inserted;

  FOR k IN 1 .. pg_catalog.array_length(v_outcomes, 1) LOOP
    CONTINUE WHEN v_outcomes[k] IS NOT NULL;
    v_user := v_in[k];
    IF v_user.sub = ANY (v_inserted) THEN
      v_outcomes[k] := 'inserted';
      CONTINUE;
    END IF;
    v_result := sync.insert_user(v_user.sub, v_user.email, v_user.display_name, v_user.handle_candidates, v_user.enabled,
      v_user.modified_at, v_user.read_at, p_run_id);
    IF v_result = 'exists' THEN
      -- Inserted by a concurrent writer after our look: decide again on the row, now there.
      IF p_depth >= 2 THEN
        RAISE EXCEPTION 'could not settle user %', v_user.sub USING ERRCODE = 'object_not_in_prerequisite_state';
      END IF;
      v_outcomes[k] := (sync.apply_batch(ARRAY[p_users[k]], p_run_id, p_depth + 1))[1];
    ELSE
      v_outcomes[k] := CASE WHEN v_result = 'erased' THEN 'erased' ELSE 'inserted' END;
    END IF;
  END LOOP;
  RETURN v_outcomes;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.apply_batch(jsonb[], bigint, integer) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC; nobody calls this one directly.
REVOKE EXECUTE ON FUNCTION sync.apply_batch(jsonb[], bigint, integer) FROM PUBLIC;
