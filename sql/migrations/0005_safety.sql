-- The safety net must never erase the wrong user: the database remembers which user pool it is kept in step
-- with, a wrong erasure can be undone (the tombstone removed), and an anonymized row keeps no link to the person.
-- Tables, columns and grants only; the functions that use them are in sql/functions/sync.

-- 1. Which pool the database is kept in step with -------------------------------------------------------------
-- One row at most (the unique index on a constant). A reconcile binds the pool it reads on its first run
-- (sync.bind_pool) and refuses any other one from then on (SQLSTATE SY001); replacing the pool is an explicit
-- operator step (sync.adopt_pool). A pool id names a pool, not a person.
CREATE TABLE sync.pool_binding (
  user_pool_id text        NOT NULL CHECK (user_pool_id <> ''),
  bound_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX pool_binding_one_row ON sync.pool_binding ((true));

-- SELECT and INSERT: bind_pool; UPDATE: adopt_pool replaces the binding in place.
GRANT SELECT, INSERT, UPDATE ON sync.pool_binding TO users_sync_owner;

-- 2. A wrong erasure is recoverable ---------------------------------------------------------------------------
-- sync.restore_user removes a tombstone (after the caller has found the user alive in the pool); the next
-- reconcile writes the user back.
GRANT DELETE ON sync.erased_users TO users_sync_owner;

-- 3. An anonymized row keeps no link to the person ------------------------------------------------------------
-- sync.erase_user under 'anonymize' replaces the sub with a fresh opaque id ('erased-' and a random uuid), so
-- the row (and the activities that stay with it) can no longer be joined to the pool, to the tombstone, or to
-- anything else that names the sub. Its deleted_at keeps only the day: to the microsecond it would equal the
-- tombstone's erased_at (one transaction writes both) and link the two again.
GRANT UPDATE (cognito_user_id) ON public.users TO users_sync_owner;

-- Rows anonymized before this migration still hold their sub and the pool's timestamps: the same treatment,
-- once. users_keep_erased skips every update of an anonymized row, so it is off for this one statement (the
-- migration runs in one transaction, and ALTER TABLE holds the table's lock until it commits). The tombstones
-- already hold the subs, so nothing that refuses an erased user loses its evidence. The count is reported as
-- a NOTICE (a number, never a value).
ALTER TABLE public.users DISABLE TRIGGER users_keep_erased;
DO $$
DECLARE
  v_unlinked bigint;
BEGIN
  UPDATE public.users AS u
     SET cognito_user_id = 'erased-' || gen_random_uuid()::text,
         email = NULL, display_name = NULL, handle = NULL, enabled = false,
         pool_modified_at = NULL, synced_at = NULL, reconcile_run = NULL,
         deleted_at = date_trunc('day', u.deleted_at, 'UTC')
   WHERE u.deleted_at IS NOT NULL AND u.cognito_user_id NOT LIKE 'erased-%';
  GET DIAGNOSTICS v_unlinked = ROW_COUNT;
  IF v_unlinked > 0 THEN
    RAISE NOTICE '0005: % anonymized row(s) no longer hold their sub', v_unlinked;
  END IF;
END
$$;
ALTER TABLE public.users ENABLE TRIGGER users_keep_erased;
