-- A confirmed sign-up, in one round trip: called by the post-confirmation trigger (Cognito allows it 5 s) and by
-- the sync writer for sign-ups that waited in the queue. p_handle_candidates: the handle rule's candidates, in
-- order (see sync.insert_user). An existing row gets email and display_name (never the handle, never enabled)
-- when read_at is newer than the state it holds.
-- outcome: 'inserted'; 'updated'; 'unchanged' (the row already held these values, or this exact state was
-- already applied); 'stale' (the row holds a newer state: nothing written); 'erased' (tombstoned: nothing
-- written). handle_adjusted: the row was inserted with a later candidate than the first.

CREATE OR REPLACE FUNCTION sync.sign_up(
  p_sub text, p_email text, p_display_name text, p_handle_candidates text[], p_read_at timestamptz
) RETURNS TABLE (outcome text, handle_adjusted boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_row record;
  v_same boolean;
  v_inserted text;
BEGIN
  IF p_sub IS NULL OR p_read_at IS NULL THEN
    RAISE EXCEPTION 'sync.sign_up needs a sub and read_at' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- A second pass only when a concurrent writer inserted the same sub between our look and our insert.
  FOR v_attempt IN 1 .. 3 LOOP
    SELECT u.uuid, u.email, u.display_name, u.synced_at, u.deleted_at INTO v_row
      FROM public.users AS u WHERE u.cognito_user_id = p_sub FOR UPDATE;
    IF FOUND THEN
      v_same := (v_row.email, v_row.display_name) IS NOT DISTINCT FROM (p_email, p_display_name);
      IF v_row.deleted_at IS NOT NULL THEN
        RETURN QUERY SELECT 'erased'::text, false;
      ELSIF v_row.synced_at > p_read_at OR (v_row.synced_at = p_read_at AND NOT v_same) THEN
        RETURN QUERY SELECT 'stale'::text, false;
      ELSIF v_row.synced_at = p_read_at THEN
        RETURN QUERY SELECT 'unchanged'::text, false;
      ELSE
        -- Newer: synced_at moves even when the values are the same, or an older state read in between
        -- (A, then B, then A again) could still win later.
        UPDATE public.users AS u SET email = p_email, display_name = p_display_name, synced_at = p_read_at
          WHERE u.uuid = v_row.uuid;
        RETURN QUERY SELECT CASE WHEN v_same THEN 'unchanged' ELSE 'updated' END, false;
      END IF;
      RETURN;
    END IF;
    v_inserted := sync.insert_user(p_sub, p_email, p_display_name, p_handle_candidates, true, NULL, p_read_at, NULL);
    IF v_inserted <> 'exists' THEN
      RETURN QUERY SELECT CASE WHEN v_inserted = 'erased' THEN 'erased' ELSE 'inserted' END, v_inserted = 'inserted_adjusted';
      RETURN;
    END IF;
  END LOOP;
  RAISE EXCEPTION 'sync.sign_up could not settle user %', p_sub USING ERRCODE = 'object_not_in_prerequisite_state';
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.sign_up(text, text, text, text[], timestamptz) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.sign_up(text, text, text, text[], timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.sign_up(text, text, text, text[], timestamptz) TO signup_writer;
GRANT EXECUTE ON FUNCTION sync.sign_up(text, text, text, text[], timestamptz) TO sync_writer;
