-- The PreSignUp check: whether any user holds the handle, ignoring case (through users_handle_lower_key).
-- Only a hint: another sign-up may take the handle before this one is confirmed; sync.sign_up then adjusts it.

CREATE OR REPLACE FUNCTION sync.handle_taken(p_handle text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT EXISTS (SELECT 1 FROM public.users AS u WHERE pg_catalog.lower(u.handle) = pg_catalog.lower(p_handle));
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.handle_taken(text) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.handle_taken(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.handle_taken(text) TO handle_checker;
