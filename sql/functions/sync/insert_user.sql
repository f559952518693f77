-- Inserts a user absent from the table with the first handle candidate no other user holds (ignoring case,
-- users_handle_lower_key), and with no handle when every one is taken: nobody is left out for want of a free
-- handle. Internal to sync.sign_up and sync.apply_batch. Returns 'inserted', 'inserted_adjusted' (a later
-- candidate than the first), 'erased' (tombstoned: the insert trigger skipped it) or 'exists' (a concurrent
-- writer inserted the sub first; the caller decides again on the row).

CREATE OR REPLACE FUNCTION sync.insert_user(
  p_sub text, p_email text, p_display_name text, p_handle_candidates text[], p_enabled boolean,
  p_modified_at timestamptz, p_read_at timestamptz, p_run_id bigint
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_candidates text[] := pg_catalog.array_append(coalesce(p_handle_candidates, '{}'::text[]), NULL::text);
BEGIN
  FOR v_index IN 1 .. pg_catalog.array_length(v_candidates, 1) LOOP
    -- No conflict target: a taken handle and a concurrent insert of the same sub both end in DO NOTHING
    -- instead of an error, so trying the next candidate needs no subtransaction.
    INSERT INTO public.users (cognito_user_id, email, display_name, handle, enabled, pool_modified_at, synced_at, reconcile_run)
      VALUES (p_sub, p_email, p_display_name, v_candidates[v_index], p_enabled, p_modified_at, p_read_at, p_run_id)
      ON CONFLICT DO NOTHING;
    IF FOUND THEN
      RETURN CASE WHEN v_index > 1 AND v_candidates[1] IS NOT NULL THEN 'inserted_adjusted' ELSE 'inserted' END;
    END IF;
    IF EXISTS (SELECT 1 FROM sync.erased_users AS e WHERE e.cognito_user_id = p_sub) THEN
      RETURN 'erased';
    END IF;
    IF EXISTS (SELECT 1 FROM public.users AS u WHERE u.cognito_user_id = p_sub) THEN
      RETURN 'exists';
    END IF;
  END LOOP;
  -- Unreachable: the last candidate, no handle, conflicts with nothing.
  RAISE EXCEPTION 'no handle candidate could be stored for %', p_sub USING ERRCODE = 'internal_error';
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.insert_user(text, text, text, text[], boolean, timestamptz, timestamptz, bigint) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC; nobody calls this one directly.
REVOKE EXECUTE ON FUNCTION sync.insert_user(text, text, text, text[], boolean, timestamptz, timestamptz, bigint) FROM PUBLIC;
