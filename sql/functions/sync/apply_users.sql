-- The one writer of user states: a reconcile page (at most 60 users, ListUsers' page size) or one sync message.
-- Each element of p_users:
--   sub                text, required
--   email, name        text (name is display_name), or null
--   handle_candidates  text[], used when the user is inserted (default: [handle]); see sync.insert_user
--   handle             text, the handle the pool asks for: an existing row takes it when no OTHER user holds it
--                      ignoring case, and keeps its handle when it is null
--   enabled            boolean, required unless seen_only
--   modified_at        timestamptz, Cognito's UserLastModifiedDate
--   read_at            timestamptz, when the caller read this state from the pool; required unless seen_only
--   seen_only          boolean: the user is in the pool but not to be written (e.g. unconfirmed)
-- With p_run_id (an open reconcile run), every user the pool holds and the table has is marked as seen by the
-- run, whatever its outcome: a user the pool holds is never pruned.
-- Rows come back in sub order, the order the users are written in, so that overlapping batches take row locks
-- in one order and wait rather than deadlock. outcome: 'inserted'; 'updated'; 'updated_handle_conflict'
-- (applied, but the requested handle is another user's: the old one stays); 'unchanged'; 'stale'; 'seen';
-- 'erased' (tombstoned: nothing written); 'refused' (error_code: the SQLSTATE the database refused the user
-- with, SY002 for a read_at more than 5 minutes ahead of the database clock; nothing of that user's state is
-- written, though a run still marks the user as seen: the pool has it).

CREATE OR REPLACE FUNCTION sync.apply_users(p_users jsonb, p_run_id bigint DEFAULT NULL)
RETURNS TABLE (cognito_user_id text, outcome text, error_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  v_users jsonb[];
  v_batch boolean;
  v_outcomes text[];
  v_codes text[];
BEGIN
  IF pg_catalog.jsonb_typeof(p_users) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'sync.apply_users takes a JSON array of users' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- The per-user path below costs one subtransaction a user; a backend caches 64 of them before every
  -- snapshot on the server gets slower, so a batch stays within one ListUsers page.
  IF pg_catalog.jsonb_array_length(p_users) > 60 THEN
    RAISE EXCEPTION 'sync.apply_users takes at most 60 users, got %', pg_catalog.jsonb_array_length(p_users)
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF p_run_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM sync.reconcile_runs AS r WHERE r.id = p_run_id AND r.completed_at IS NULL
  ) THEN
    RAISE EXCEPTION 'reconcile run % is not open', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  SELECT coalesce(pg_catalog.array_agg(e.value ORDER BY e.value ->> 'sub', e.n), '{}'),
         pg_catalog.count(DISTINCT e.value ->> 'sub') = pg_catalog.count(*)
    INTO v_users, v_batch
    FROM pg_catalog.jsonb_array_elements(p_users) WITH ORDINALITY AS e(value, n);

  -- Fast path: the whole batch at once, in one subtransaction. When the database refuses some user, the batch
  -- is rolled back and written again user by user, each in its own subtransaction, so that the refused user
  -- costs nobody else. So is a batch that names a sub twice, whose states must apply in order. Other errors
  -- (a deadlock, a cancelled statement) abort the call: those are worth a retry.
  IF v_batch THEN
    BEGIN
      v_outcomes := sync.apply_batch(v_users, p_run_id, 0);
      v_codes := pg_catalog.array_fill(NULL::text, ARRAY[pg_catalog.cardinality(v_users)]);
    EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded OR SQLSTATE 'SY002' THEN
      v_batch := false;
    END;
  END IF;
  IF NOT v_batch THEN
    v_outcomes := '{}';
    v_codes := '{}';
    FOR k IN 1 .. pg_catalog.cardinality(v_users) LOOP
      BEGIN
        v_outcomes[k] := (sync.apply_batch(ARRAY[v_users[k]], p_run_id, 0))[1];
      EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded OR SQLSTATE 'SY002' THEN
        v_outcomes[k] := 'refused';
        v_codes[k] := SQLSTATE;
        -- The refused state is not written, but the pool holds the user: the run saw it.
        IF p_run_id IS NOT NULL THEN
          UPDATE public.users AS u SET reconcile_run = p_run_id
            WHERE u.cognito_user_id = v_users[k] ->> 'sub' AND u.deleted_at IS NULL
              AND u.reconcile_run IS DISTINCT FROM p_run_id;
        END IF;
      END;
    END LOOP;
  END IF;
  RETURN QUERY
    SELECT v_users[k] ->> 'sub', v_outcomes[k], v_codes[k]
      FROM pg_catalog.generate_subscripts(v_users, 1) AS k ORDER BY k;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.apply_users(jsonb, bigint) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.apply_users(jsonb, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.apply_users(jsonb, bigint) TO sync_writer;
GRANT EXECUTE ON FUNCTION sync.apply_users(jsonb, bigint) TO user_reconciler;
