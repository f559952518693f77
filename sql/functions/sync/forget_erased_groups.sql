-- Trigger function of users_forget_erased_groups (AFTER UPDATE OF deleted_at ON public.users, when deleted_at
-- becomes set): an anonymized user keeps their row, for their activities, but belongs to no group any more.
-- Under the delete erasure policy the memberships go with the row, by their ON DELETE CASCADE.

CREATE OR REPLACE FUNCTION sync.forget_erased_groups() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  DELETE FROM public.user_groups AS g WHERE g.user_uuid = NEW.uuid;
  RETURN NULL;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.forget_erased_groups() OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC; a trigger function is run by its trigger, never called.
REVOKE EXECUTE ON FUNCTION sync.forget_erased_groups() FROM PUBLIC;
