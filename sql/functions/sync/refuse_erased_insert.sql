-- Trigger function of users_refuse_erased_insert (BEFORE INSERT ON public.users): nothing brings back an erased
-- user. It guards the table itself, so that every writer (the sync functions, an operator, a backfill) is held
-- to it, and skips the insert silently (RETURN NULL): a refused late replay is the outcome the caller wants, not
-- an error to retry.
--
-- Without a lock, an insert and an erasure of a user who has no row yet could each miss the other (the insert
-- checks for a tombstone before the erasure commits it; the erasure deletes before the insert commits the row).
-- So both take one advisory lock first, inserts in shared mode and sync.erase_user exclusively: an insert either
-- committed before the erasure looks (and is erased) or waits and then sees the tombstone. The lock is one of 16
-- buckets of the sub's hash, not one per sub: a transaction inserting many users then holds at most 16 entries
-- of the server's lock table (one lock a sub runs a 100,000-row insert out of shared memory), and an erasure,
-- which takes milliseconds, holds up only the inserts of its bucket. The two-key form (lock space 3) cannot
-- collide with the single-key lock postgres-migrations takes.

CREATE OR REPLACE FUNCTION sync.refuse_erased_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock_shared(3, pg_catalog.hashtext(NEW.cognito_user_id) & 15);
  IF EXISTS (SELECT 1 FROM sync.erased_users AS e WHERE e.cognito_user_id = NEW.cognito_user_id) THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.refuse_erased_insert() OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC; a trigger function is run by its trigger, never called.
REVOKE EXECUTE ON FUNCTION sync.refuse_erased_insert() FROM PUBLIC;
