-- The operator's explicit step when the user pool is replaced (`npm run db -- adopt-pool <pool id>`): the
-- database is kept in step with this pool from now on. Returns the pool it was bound to before (NULL: none).
-- No function role may call it: a reconcile that meets another pool stops (sync.bind_pool, SY001) and a person
-- decides. The next reconcile of the new pool inserts its users; with prune, the brakes still limit how many
-- rows the old pool's users may lose at once.

CREATE OR REPLACE FUNCTION sync.adopt_pool(p_user_pool_id text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_previous text;
BEGIN
  IF p_user_pool_id IS NULL OR p_user_pool_id = '' THEN
    RAISE EXCEPTION 'sync.adopt_pool needs a user pool id' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- A second pass only when a first bind_pool inserted the row between our look and our insert.
  FOR v_attempt IN 1 .. 2 LOOP
    SELECT b.user_pool_id INTO v_previous FROM sync.pool_binding AS b FOR UPDATE;
    IF FOUND THEN
      UPDATE sync.pool_binding AS b SET user_pool_id = p_user_pool_id, bound_at = pg_catalog.now();
      RETURN v_previous;
    END IF;
    INSERT INTO sync.pool_binding (user_pool_id) VALUES (p_user_pool_id) ON CONFLICT DO NOTHING;
    IF FOUND THEN
      RETURN NULL;
    END IF;
  END LOOP;
  RAISE EXCEPTION 'sync.adopt_pool could not settle the binding' USING ERRCODE = 'object_not_in_prerequisite_state';
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.adopt_pool(text) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC. Granted to nobody: the operator runs it as the master user
-- (a member of users_sync_owner, which owns it) or as a local superuser.
REVOKE EXECUTE ON FUNCTION sync.adopt_pool(text) FROM PUBLIC;
