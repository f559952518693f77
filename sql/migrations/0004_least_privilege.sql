-- Least privilege, proved (issue 11): every function role holds only what its code uses, one handle rule in
-- the table itself, connections of reaped containers closed by the server, and a connection limit per role
-- that the deployment sets from its stage's arithmetic. test/sql/migrations/0004_least_privilege.test.ts logs
-- in as each role and shows what it may and may not do.

-- 1. signup_writer only calls sync.sign_up ------------------------------------------------------------------
-- The post-confirmation trigger writes through sync.sign_up (0003), which runs as users_sync_owner. The 0002
-- grants let the trigger read every user's email, name and handle, and set uuid and created_at (a row dated
-- 1970 was inserted): all of them go. Revoking a table privilege revokes its column grants too.
REVOKE ALL ON ALL TABLES IN SCHEMA public, sync FROM signup_writer;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public, sync FROM signup_writer;
REVOKE ALL ON SCHEMA public FROM signup_writer;

-- 2. The handle rule -------------------------------------------------------------------------------------------
-- The same pattern as HANDLE_PATTERN in lambdas/users/user.ts. PostgreSQL's bracket ranges go by code point, so
-- A-Z is ASCII only, as in JavaScript, and `$` matches only at the very end (no trailing newline slips through).
-- Handles stored before this rule (zero-width characters, look-alike letters, 2048 CJK characters) do not
-- meet it: they are set to NULL here, first, so that the constraint can be added. The users keep their rows;
-- only the handle goes, as the mapping now does for a new user with such a handle. The count is reported as
-- a NOTICE (a number, never a value).
DO $$
DECLARE
  v_cleared bigint;
BEGIN
  UPDATE public.users AS u SET handle = NULL
   WHERE u.handle IS NOT NULL AND u.handle !~ '^[A-Za-z0-9_]{3,32}$';
  GET DIAGNOSTICS v_cleared = ROW_COUNT;
  IF v_cleared > 0 THEN
    RAISE NOTICE '0004: % handle(s) outside the handle rule set to NULL', v_cleared;
  END IF;
END
$$;

ALTER TABLE public.users
  ADD CONSTRAINT users_handle_rule CHECK (handle ~ '^[A-Za-z0-9_]{3,32}$');

-- 3. Sessions -----------------------------------------------------------------------------------------------
-- A Lambda container that is reaped never closes its connection; the server would keep the session (and one
-- of the role's connection slots) until TCP keepalive gives up, hours later. A warm container whose session the
-- server ended reconnects on its next event (LazyConnection), a few tens of milliseconds. Five minutes is about
-- how long Lambda keeps an idle container: shorter would reconnect warm containers for nothing, longer would
-- hold slots of dead ones. PreSignUp closes its connection after every lookup: one minute is only a backstop.
ALTER ROLE signup_writer SET idle_session_timeout = '5min';
ALTER ROLE sync_writer SET idle_session_timeout = '5min';
ALTER ROLE user_reconciler SET idle_session_timeout = '5min';
ALTER ROLE handle_checker SET idle_session_timeout = '1min';

-- No temporary objects, the one thing a role with no other privilege could still create. 0003 revoked
-- TEMPORARY from PUBLIC and these roles; said again here because a later hand-made grant would undo it quietly.
DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC, signup_writer, sync_writer, user_reconciler, handle_checker',
    current_database());
END
$$;

-- 4. Connection limits -------------------------------------------------------------------------------------------
-- The limit per role depends on the stage (its instance's max_connections and each function's concurrency,
-- lib/stage.ts), which a migration file cannot know; the migration function calls this after the migrations with
-- the map it is given (CONNECTION_LIMITS). Only the four function roles: any other key, or a value that is not a
-- whole number from 1 to 10000 (or -1, no limit), refuses the whole map, and nothing is changed (a function is
-- one statement). 0 is refused: it would lock the function out, which no arithmetic means to do.
--
-- In a schema of its own, not in `sync`: that one is the function roles' API, every function in it a SECURITY
-- DEFINER of users_sync_owner; this is the deployment's. SECURITY INVOKER, owned by the migrating user: ALTER
-- ROLE needs CREATEROLE and ADMIN OPTION on the role, which that user has (it created the roles; on RDS, the
-- master user) and users_sync_owner must never have. Nobody else gets USAGE on the schema or EXECUTE on the
-- function, so no function role can even try.
CREATE SCHEMA deploy;
REVOKE ALL ON SCHEMA deploy FROM PUBLIC;

CREATE FUNCTION deploy.set_connection_limits(p_limits jsonb)
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

REVOKE EXECUTE ON FUNCTION deploy.set_connection_limits(jsonb) FROM PUBLIC;
