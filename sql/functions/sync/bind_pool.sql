-- The user pool the database is kept in step with. A reconcile calls this before its first page: no binding
-- yet binds this pool ('bound'); the bound pool answers 'same'; any other pool is refused with SQLSTATE SY001,
-- naming both ids (pool ids name pools, not people), so a run against the wrong pool (another stage's, or a
-- replaced pool that holds none of the table's users) stops before it reads or prunes anything. Replacing the
-- binding is the operator's explicit step, sync.adopt_pool.

CREATE OR REPLACE FUNCTION sync.bind_pool(p_user_pool_id text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_bound text;
BEGIN
  IF p_user_pool_id IS NULL OR p_user_pool_id = '' THEN
    RAISE EXCEPTION 'sync.bind_pool needs a user pool id' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Two first runs at once: the unique index on the one row makes the second wait, then skip, then compare.
  INSERT INTO sync.pool_binding (user_pool_id) VALUES (p_user_pool_id) ON CONFLICT DO NOTHING;
  IF FOUND THEN
    RETURN 'bound';
  END IF;
  SELECT b.user_pool_id INTO v_bound FROM sync.pool_binding AS b;
  IF v_bound = p_user_pool_id THEN
    RETURN 'same';
  END IF;
  RAISE EXCEPTION 'database is kept in step with %; refusing %', v_bound, p_user_pool_id USING ERRCODE = 'SY001';
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.bind_pool(text) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it. The operator's connection
-- (the master user, a member of users_sync_owner, or a local superuser) needs no grant.
REVOKE EXECUTE ON FUNCTION sync.bind_pool(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.bind_pool(text) TO user_reconciler;
