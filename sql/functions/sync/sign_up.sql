-- A confirmed sign-up, in one round trip: called by the post-confirmation trigger (Cognito allows it 5 s) and by
-- the sync writer for sign-ups that waited in the queue. It only ever creates the row: an existing row is left to
-- the writer (user events) and the reconcile, which order their states by read_at. p_handle_candidates: the
-- handle rule's candidates, in order (see sync.insert_user).
-- outcome: 'inserted'; 'exists' (the table has the sub: nothing written); 'erased' (tombstoned: nothing
-- written). handle_adjusted: the row was inserted with a later candidate than the first.
-- A read_at more than 5 minutes ahead of the database clock is refused with SQLSTATE SY002, nothing written: a
-- row stamped in the future would make every later, true state look stale.
--
-- The common path is one INSERT ... ON CONFLICT DO NOTHING (and the tombstone trigger it fires); only a
-- conflict (the sub is there, or the first handle is taken) or a skipped insert (tombstone) looks further.
-- What the call costs over a bare INSERT (~15-20 µs on loopback) is the INSERT run inside a function in its own
-- transaction and the result row: measured without the SET clause, with OUT parameters or a text result, and
-- without the read_at check, it costs the same within the noise, so the SET clause that pins the search path of
-- this SECURITY DEFINER function stays (docs/performance.md).

CREATE OR REPLACE FUNCTION sync.sign_up(
  p_sub text, p_email text, p_display_name text, p_handle_candidates text[], p_read_at timestamptz
) RETURNS TABLE (outcome text, handle_adjusted boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_inserted text;
BEGIN
  IF p_sub IS NULL OR p_read_at IS NULL THEN
    RAISE EXCEPTION 'sync.sign_up needs a sub and read_at' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF p_read_at > pg_catalog.clock_timestamp() + interval '5 minutes' THEN
    RAISE EXCEPTION 'read_at % is more than 5 minutes ahead of the database clock', p_read_at USING ERRCODE = 'SY002';
  END IF;
  INSERT INTO public.users (cognito_user_id, email, display_name, handle, enabled, synced_at)
    VALUES (p_sub, p_email, p_display_name, p_handle_candidates[1], true, p_read_at)
    ON CONFLICT DO NOTHING;
  IF FOUND THEN
    -- The row by assignment, not RETURN QUERY: no second statement on the path every sign-up takes.
    outcome := 'inserted';
    handle_adjusted := false;
    RETURN NEXT;
    RETURN;
  END IF;
  v_inserted := sync.insert_user(p_sub, p_email, p_display_name, p_handle_candidates, true, NULL, p_read_at, NULL);
  RETURN QUERY SELECT CASE v_inserted WHEN 'exists' THEN 'exists' WHEN 'erased' THEN 'erased' ELSE 'inserted' END,
    v_inserted = 'inserted_adjusted';
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
