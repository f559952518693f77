-- Sets each function role's CONNECTION LIMIT from the map the deployment gives the migration function
-- (CONNECTION_LIMITS, from its stage's arithmetic in lib/stage.ts); it runs after the migrations and function
-- files. Only the four function roles: any other key, or a value that is not a whole number from 1 to 10000
-- (or -1, no limit), refuses the whole map, and nothing is changed (a function is one statement). 0 is refused:
-- it would lock the function out, which no arithmetic means to do. Returns every function role's limit.
--
-- In schema deploy, not in sync: sync is the function roles' API, every function in it a SECURITY DEFINER of
-- users_sync_owner; this is the deployment's. SECURITY INVOKER, owned by the migrating user: ALTER ROLE needs
-- CREATEROLE and ADMIN OPTION on the role, which that user has (it created the roles; on RDS, the master user)
-- and users_sync_owner must never have. Nobody else gets USAGE on the schema or EXECUTE on the function, so no
-- function role can even try.

CREATE OR REPLACE FUNCTION deploy.set_connection_limits(p_limits jsonb)
RETURNS TABLE (role_name text, connection_limit integer)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_entry record;
  v_limit numeric;
BEGIN
  IF pg_catalog.jsonb_typeof(p_limits) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION 'connection limits must be a JSON object of role: limit' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR v_entry IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_limits) AS e ORDER BY e.key LOOP
    IF v_entry.key NOT IN ('signup_writer', 'sync_writer', 'user_reconciler', 'handle_checker') THEN
      RAISE EXCEPTION 'connection limits: % is not a function role', pg_catalog.quote_literal(pg_catalog.left(v_entry.key, 64))
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.jsonb_typeof(v_entry.value) IS DISTINCT FROM 'number' THEN
      RAISE EXCEPTION 'connection limits: % must be a number', v_entry.key USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_limit := (v_entry.value #>> '{}')::numeric;
    IF v_limit <> pg_catalog.trunc(v_limit) OR NOT (v_limit = -1 OR v_limit BETWEEN 1 AND 10000) THEN
      RAISE EXCEPTION 'connection limits: % must be a whole number from 1 to 10000, or -1', v_entry.key
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE pg_catalog.format('ALTER ROLE %I CONNECTION LIMIT %s', v_entry.key, v_limit::integer);
  END LOOP;
  RETURN QUERY
    SELECT r.rolname::text, r.rolconnlimit FROM pg_catalog.pg_roles AS r
     WHERE r.rolname IN ('signup_writer', 'sync_writer', 'user_reconciler', 'handle_checker')
     ORDER BY r.rolname;
END
$fn$;

-- Creating a function grants EXECUTE to PUBLIC; only the migrating user, its owner, calls this one.
REVOKE EXECUTE ON FUNCTION deploy.set_connection_limits(jsonb) FROM PUBLIC;
