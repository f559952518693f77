-- Trigger function of users_keep_erased (BEFORE UPDATE ON public.users WHEN OLD.deleted_at IS NOT NULL): an
-- anonymized row stays anonymized, whoever updates it; the trigger's WHEN clause keeps this off every other
-- update. A migration that must rewrite anonymized rows too (a backfill) disables users_keep_erased around its
-- UPDATE, or those rows are skipped without a word.

CREATE OR REPLACE FUNCTION sync.keep_erased() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RETURN NULL;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.keep_erased() OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC; a trigger function is run by its trigger, never called.
REVOKE EXECUTE ON FUNCTION sync.keep_erased() FROM PUBLIC;
