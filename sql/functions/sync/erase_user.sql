-- Erasure (GDPR art. 17), in one transaction: the tombstone, then the row deleted (with its activities, by
-- their ON DELETE CASCADE) or anonymized: the row keeps no sub (a fresh opaque id, 'erased-' and a random
-- uuid, so nothing that names the sub finds it any more) and no personal value (email, name, handle, the
-- pool's timestamps and the run mark go; disabled), and deleted_at keeps only the day (to the microsecond it
-- would equal the tombstone's erased_at); its activities stay, as a ghost's, which is what that policy is
-- for. The tombstone holds only the sub and when. Works when the row does not exist: the tombstone alone
-- keeps a late sign-up out. A row still holding the sub is erased even when the tombstone exists, so a retried
-- erasure converges whatever stopped the first. outcome: 'erased'; 'already_erased' (tombstone there and no
-- row holds the sub: nothing written); 'absent_tombstoned' (no row; the tombstone is written).
--
-- Locks, in the one order every writer takes them (see sync.apply_batch): the sub's advisory bucket, then the
-- row. A batch holds its buckets before its rows, so neither can hold what the other waits for.

CREATE OR REPLACE FUNCTION sync.erase_user(p_sub text, p_policy text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_tombstoned boolean;
BEGIN
  IF p_sub IS NULL THEN
    RAISE EXCEPTION 'sync.erase_user needs a sub' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF p_policy IS NULL OR p_policy NOT IN ('delete', 'anonymize') THEN
    RAISE EXCEPTION 'erasure policy must be delete or anonymize' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Exclusive against the insert trigger's and the batches' shared lock: see sync.refuse_erased_insert.
  PERFORM pg_catalog.pg_advisory_xact_lock(3, pg_catalog.hashtext(p_sub) & 15);
  INSERT INTO sync.erased_users (cognito_user_id) VALUES (p_sub) ON CONFLICT DO NOTHING;
  v_tombstoned := FOUND;
  IF p_policy = 'delete' THEN
    DELETE FROM public.users AS u WHERE u.cognito_user_id = p_sub;
  ELSE
    UPDATE public.users AS u
       SET cognito_user_id = 'erased-' || pg_catalog.gen_random_uuid()::text,
           email = NULL, display_name = NULL, handle = NULL, enabled = false,
           pool_modified_at = NULL, synced_at = NULL, reconcile_run = NULL,
           deleted_at = pg_catalog.date_trunc('day', pg_catalog.now(), 'UTC')
     WHERE u.cognito_user_id = p_sub AND u.deleted_at IS NULL;
  END IF;
  RETURN CASE WHEN FOUND THEN 'erased' WHEN v_tombstoned THEN 'absent_tombstoned' ELSE 'already_erased' END;
END
$fn$;

-- Runs with the privileges of users_sync_owner, which holds exactly the table privileges the functions need. A
-- new function belongs to whoever created it, so it is handed over; the new owner needs CREATE on the schema for
-- that (superusers skip the check, RDS's master user does not) and holds it just for the statement. On a
-- function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.erase_user(text, text) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the roles that call it keep it.
REVOKE EXECUTE ON FUNCTION sync.erase_user(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.erase_user(text, text) TO sync_writer;
GRANT EXECUTE ON FUNCTION sync.erase_user(text, text) TO user_reconciler;
