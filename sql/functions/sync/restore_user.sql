-- Undoes a wrong erasure: removes the sub's tombstone, so the next reconcile (or event) writes the user back from
-- the pool. The caller first checks that the pool has the user; without that check the next prune would only
-- erase the user again. What the erasure removed stays removed: a deleted row and its activities are gone, an
-- anonymized row stays a ghost that no longer carries the sub; the restored user is a new row.
-- outcome: 'restored'; 'not_erased' (no tombstone for that sub: nothing changed). An outcome, not an error
-- (no SY003): restoring twice is no fault, and the caller reports either.

CREATE OR REPLACE FUNCTION sync.restore_user(p_sub text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF p_sub IS NULL THEN
    RAISE EXCEPTION 'sync.restore_user needs a sub' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- The bucket lock an erasure of the same sub takes, in the same order: an erasure in progress finishes first.
  PERFORM pg_catalog.pg_advisory_xact_lock(3, pg_catalog.hashtext(p_sub) & 15);
  DELETE FROM sync.erased_users AS e WHERE e.cognito_user_id = p_sub;
  RETURN CASE WHEN FOUND THEN 'restored' ELSE 'not_erased' END;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.restore_user(text) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.restore_user(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.restore_user(text) TO user_reconciler;
