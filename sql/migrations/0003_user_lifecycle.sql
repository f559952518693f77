-- The database side of the user lifecycle: attribute updates, disable/enable, erasure (GDPR art. 17),
-- admin-created users and a resumable reconcile, all written through SECURITY DEFINER functions in schema
-- `sync`, so that no function role holds a privilege on any table.
--
-- Events are hints ("user X changed"): the caller re-reads the pool and passes the state with the time it
-- read it (read_at). That time orders the writes, so duplicate and out-of-order delivery converge on the pool's
-- latest state: an older state never replaces a newer one, and nothing brings back an erased user.
--
-- Callers use READ COMMITTED (PostgreSQL's default): the functions rely on each statement seeing what other
-- transactions committed while it waited for a lock.

-- 1. The row as the pool last described it ---------------------------------------------------------------------

ALTER TABLE public.users
  -- Disabled in the pool (AdminDisableUser); relied on by name and type outside this file.
  ADD COLUMN enabled boolean NOT NULL DEFAULT true,
  -- When the state this row holds was read from the pool: the order key. NULL for rows written before this
  -- migration, which any state then overrides.
  ADD COLUMN synced_at timestamptz,
  -- Cognito's UserLastModifiedDate, informational: the pool's clock, not ours, so it orders nothing.
  ADD COLUMN pool_modified_at timestamptz,
  -- Set only when the anonymize erasure policy keeps the row (for its activities) without personal data.
  ADD COLUMN deleted_at timestamptz,
  -- The last reconcile run that saw the user in the pool; a row not seen by a complete run may be pruned.
  -- No foreign key: it would cost a lookup on every reconcile write and guard nothing a run id could break.
  ADD COLUMN reconcile_run bigint;

-- 2. Tombstones and reconcile runs -----------------------------------------------------------------------------

CREATE SCHEMA sync;
REVOKE ALL ON SCHEMA sync FROM PUBLIC;

-- Cognito never reuses a sub, so a tombstone is forever. It holds the sub only: no email, name or handle.
CREATE TABLE sync.erased_users (
  cognito_user_id text        PRIMARY KEY,
  erased_at       timestamptz NOT NULL DEFAULT now()
);

-- A run spans many invocations: the token of the next page is saved in the same statement as the page's
-- writes, so a run resumes exactly where the last committed page ended.
CREATE TABLE sync.reconcile_runs (
  id               bigserial   PRIMARY KEY,
  -- The database clock, like users.created_at: a row created after this instant is never a prune candidate.
  started_at       timestamptz NOT NULL DEFAULT now(),
  -- The pool's token for the next page; NULL before the first page.
  pagination_token text,
  pages            integer     NOT NULL DEFAULT 0,
  scanned          bigint      NOT NULL DEFAULT 0,
  inserted         bigint      NOT NULL DEFAULT 0,
  updated          bigint      NOT NULL DEFAULT 0,
  handle_conflicts bigint      NOT NULL DEFAULT 0,
  unchanged        bigint      NOT NULL DEFAULT 0,
  stale            bigint      NOT NULL DEFAULT 0,
  seen             bigint      NOT NULL DEFAULT 0,
  erased           bigint      NOT NULL DEFAULT 0,
  refused          bigint      NOT NULL DEFAULT 0,
  pruned           bigint      NOT NULL DEFAULT 0,
  -- Set by the last page (the one without a next token): the run has seen the whole pool.
  completed_at     timestamptz,
  pruned_at        timestamptz
);

-- At most one open run: two overlapping invocations resume the same run instead of starting two.
CREATE UNIQUE INDEX reconcile_runs_one_open ON sync.reconcile_runs ((true)) WHERE completed_at IS NULL;

-- 3. The owner of the functions ----------------------------------------------------------------------------------
-- The functions run with their owner's privileges. The owner is a NOLOGIN role that holds exactly the table
-- privileges the function bodies need, not the migration (master) user, which owns every table and could
-- do anything. Nobody can log in as it; the function roles only get EXECUTE on chosen functions.
--
-- ALTER FUNCTION ... OWNER TO needs the migrating user to be able to SET ROLE to the new owner. On RDS the
-- master user is not a superuser, but it has CREATEROLE, and since PostgreSQL 16 a role it creates gives it
-- ADMIN OPTION on that role; with that it may grant itself membership (GRANT below), which carries SET. Locally
-- the migrations run as a superuser, for whom both steps are allowed anyway. The membership also lets later
-- migrations replace or drop these functions. (A users_sync_owner made by hand by some other role must be
-- granted to the migrating user by that role first.)
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'users_sync_owner') THEN
    CREATE ROLE users_sync_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
  IF NOT pg_has_role(current_user, 'users_sync_owner', 'SET') THEN
    EXECUTE format('GRANT users_sync_owner TO %I', current_user);
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public, sync TO users_sync_owner;
-- SELECT: every function reads the row it decides on (and FOR UPDATE locks it); DELETE: the delete erasure
-- policy (activities go with the row by their ON DELETE CASCADE, which runs as the activities table's owner,
-- so the owner needs nothing on activities). INSERT and UPDATE only of the columns the functions write.
GRANT SELECT, DELETE ON public.users TO users_sync_owner;
GRANT INSERT (cognito_user_id, email, display_name, handle, enabled, pool_modified_at, synced_at, reconcile_run)
  ON public.users TO users_sync_owner;
GRANT UPDATE (email, display_name, handle, enabled, pool_modified_at, synced_at, reconcile_run, deleted_at)
  ON public.users TO users_sync_owner;
GRANT SELECT, INSERT ON sync.erased_users TO users_sync_owner;
GRANT SELECT, INSERT, UPDATE ON sync.reconcile_runs TO users_sync_owner;
GRANT USAGE ON SEQUENCE sync.reconcile_runs_id_seq TO users_sync_owner;

-- 4. Nothing brings back an erased user ---------------------------------------------------------------------
-- Enforced at the table, not only in the functions below: signup_writer still inserts and updates
-- public.users directly until the post-confirmation code calls sync.sign_up, and that path must not resurrect
-- anybody either. Both triggers skip the write silently (RETURN NULL): a refused late replay is the outcome
-- the caller wants, not an error to retry.
--
-- Without a lock, an insert and an erasure of a user who has no row yet could each miss the other (the insert
-- checks for a tombstone before the erasure commits it; the erasure deletes before the insert commits the
-- row). So they take one advisory lock first, inserts in shared mode and the erasure exclusively: an insert
-- either committed before the erasure looks (and is erased) or waits and then sees the tombstone. The lock is
-- one of 16 buckets of the sub's hash, not one per sub: a transaction inserting many users then holds at most
-- 16 entries of the server's lock table (one lock a sub ran a 100,000-row insert out of shared memory), and
-- an erasure, which takes milliseconds, holds up only the inserts of its bucket. The two-key form (lock space 3,
-- for this migration) cannot collide with the single-key lock postgres-migrations takes.
CREATE FUNCTION sync.refuse_erased_insert() RETURNS trigger
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

-- An anonymized row stays anonymized, whoever updates it. The WHEN clause keeps this off every other update.
-- A later migration that must rewrite anonymized rows too (a backfill) disables users_keep_erased around its
-- UPDATE, or those rows are skipped without a word.
CREATE FUNCTION sync.keep_erased() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RETURN NULL;
END
$fn$;

CREATE TRIGGER users_refuse_erased_insert BEFORE INSERT ON public.users
  FOR EACH ROW EXECUTE FUNCTION sync.refuse_erased_insert();
CREATE TRIGGER users_keep_erased BEFORE UPDATE ON public.users
  FOR EACH ROW WHEN (OLD.deleted_at IS NOT NULL) EXECUTE FUNCTION sync.keep_erased();

-- 5. The functions ---------------------------------------------------------------------------------------------
-- Every function: SECURITY DEFINER, search_path fixed to pg_catalog then pg_temp (so no caller-made object can
-- stand in for a built-in), every name schema-qualified, EXECUTE revoked from PUBLIC and granted per role.

-- Inserts a user absent from the table with the first handle candidate no other user holds (ignoring case,
-- users_handle_lower_key), and with no handle when every one is taken: nobody is left out for want of a free
-- handle. Internal to sign_up and apply_users. Returns 'inserted', 'inserted_adjusted' (a later candidate
-- than the first), 'erased' (tombstoned: the insert trigger skipped it) or 'exists' (a concurrent writer
-- inserted the sub first; the caller decides again on the row).
CREATE FUNCTION sync.insert_user(
  p_sub text, p_email text, p_display_name text, p_handle_candidates text[], p_enabled boolean,
  p_modified_at timestamptz, p_read_at timestamptz, p_run_id bigint
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_candidates text[] := pg_catalog.array_append(coalesce(p_handle_candidates, '{}'::text[]), NULL::text);
BEGIN
  FOR v_index IN 1 .. pg_catalog.array_length(v_candidates, 1) LOOP
    -- No conflict target: a taken handle and a concurrent insert of the same sub both end in DO NOTHING
    -- instead of an error, so trying the next candidate needs no subtransaction.
    INSERT INTO public.users (cognito_user_id, email, display_name, handle, enabled, pool_modified_at, synced_at, reconcile_run)
      VALUES (p_sub, p_email, p_display_name, v_candidates[v_index], p_enabled, p_modified_at, p_read_at, p_run_id)
      ON CONFLICT DO NOTHING;
    IF FOUND THEN
      RETURN CASE WHEN v_index > 1 AND v_candidates[1] IS NOT NULL THEN 'inserted_adjusted' ELSE 'inserted' END;
    END IF;
    IF EXISTS (SELECT 1 FROM sync.erased_users AS e WHERE e.cognito_user_id = p_sub) THEN
      RETURN 'erased';
    END IF;
    IF EXISTS (SELECT 1 FROM public.users AS u WHERE u.cognito_user_id = p_sub) THEN
      RETURN 'exists';
    END IF;
  END LOOP;
  -- Unreachable: the last candidate, no handle, conflicts with nothing.
  RAISE EXCEPTION 'no handle candidate could be stored for %', p_sub USING ERRCODE = 'internal_error';
END
$fn$;

-- The post-confirmation trigger and the replay of queued sign-ups, in one round trip (Cognito allows the
-- trigger 5 s). p_handle_candidates: the handle rule's candidates, in order (see insert_user). An existing row
-- gets email and display_name (never the handle, never enabled) when read_at is newer than the state it holds.
-- outcome: 'inserted'; 'updated'; 'unchanged' (the row already held these values, or this exact state was
-- already applied); 'stale' (the row holds a newer state: nothing written); 'erased' (tombstoned: nothing
-- written). handle_adjusted: the row was inserted with a later candidate than the first.
CREATE FUNCTION sync.sign_up(
  p_sub text, p_email text, p_display_name text, p_handle_candidates text[], p_read_at timestamptz
) RETURNS TABLE (outcome text, handle_adjusted boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_row record;
  v_same boolean;
  v_inserted text;
BEGIN
  IF p_sub IS NULL OR p_read_at IS NULL THEN
    RAISE EXCEPTION 'sync.sign_up needs a sub and read_at' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- A second pass only when a concurrent writer inserted the same sub between our look and our insert.
  FOR v_attempt IN 1 .. 3 LOOP
    SELECT u.uuid, u.email, u.display_name, u.synced_at, u.deleted_at INTO v_row
      FROM public.users AS u WHERE u.cognito_user_id = p_sub FOR UPDATE;
    IF FOUND THEN
      v_same := (v_row.email, v_row.display_name) IS NOT DISTINCT FROM (p_email, p_display_name);
      IF v_row.deleted_at IS NOT NULL THEN
        RETURN QUERY SELECT 'erased'::text, false;
      ELSIF v_row.synced_at > p_read_at OR (v_row.synced_at = p_read_at AND NOT v_same) THEN
        RETURN QUERY SELECT 'stale'::text, false;
      ELSIF v_row.synced_at = p_read_at THEN
        RETURN QUERY SELECT 'unchanged'::text, false;
      ELSE
        -- Newer: synced_at moves even when the values are the same, or an older state read in between
        -- (A, then B, then A again) could still win later.
        UPDATE public.users AS u SET email = p_email, display_name = p_display_name, synced_at = p_read_at
          WHERE u.uuid = v_row.uuid;
        RETURN QUERY SELECT CASE WHEN v_same THEN 'unchanged' ELSE 'updated' END, false;
      END IF;
      RETURN;
    END IF;
    v_inserted := sync.insert_user(p_sub, p_email, p_display_name, p_handle_candidates, true, NULL, p_read_at, NULL);
    IF v_inserted <> 'exists' THEN
      RETURN QUERY SELECT CASE WHEN v_inserted = 'erased' THEN 'erased' ELSE 'inserted' END, v_inserted = 'inserted_adjusted';
      RETURN;
    END IF;
  END LOOP;
  RAISE EXCEPTION 'sync.sign_up could not settle user %', p_sub USING ERRCODE = 'object_not_in_prerequisite_state';
END
$fn$;

-- One element of apply_users' p_users, parsed (see apply_users for what each field means).
CREATE TYPE sync.user_state AS (
  sub               text,
  email             text,
  display_name      text,
  handle            text,
  handle_candidates text[],
  enabled           boolean,
  modified_at       timestamptz,
  read_at           timestamptz,
  seen_only         boolean
);

-- Internal to apply_users: a batch of distinct users, sorted by sub, written with a few statements for the
-- whole batch rather than a few for each user. Returns the outcomes in the batch's order. Raises when the
-- database refuses any user (a value that does not parse, a constraint, a value too large for an index).
CREATE FUNCTION sync.apply_batch(p_users jsonb[], p_run_id bigint, p_depth integer) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
-- A batch is at most 60 users, each found by a unique key: nested loops over the indexes are the right plan at
-- any table size. Left to costs, a plan cached while the table was small (the first pages of the first run)
-- scans it, and goes on scanning it whole for every batch after it has grown, until the next ANALYZE.
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $fn$
DECLARE
  v_in sync.user_state[];
  v_outcomes text[];
  v_inserted text[];
  v_user sync.user_state;
  v_result text;
  v_present bigint;
BEGIN
  IF coalesce(pg_catalog.cardinality(p_users), 0) = 0 THEN
    RETURN '{}'::text[];
  END IF;
  SELECT pg_catalog.array_agg(ROW(
      e.value ->> 'sub', e.value ->> 'email', e.value ->> 'name', e.value ->> 'handle',
      CASE WHEN pg_catalog.jsonb_typeof(e.value -> 'handle_candidates') = 'array'
        THEN ARRAY(SELECT c.value FROM pg_catalog.jsonb_array_elements_text(e.value -> 'handle_candidates') WITH ORDINALITY AS c(value, n) ORDER BY c.n)
        ELSE ARRAY[e.value ->> 'handle'] END,
      (e.value ->> 'enabled')::boolean, (e.value ->> 'modified_at')::timestamptz, (e.value ->> 'read_at')::timestamptz,
      coalesce((e.value ->> 'seen_only')::boolean, false))::sync.user_state ORDER BY e.k)
    INTO v_in FROM pg_catalog.unnest(p_users) WITH ORDINALITY AS e(value, k);
  IF EXISTS (SELECT 1 FROM pg_catalog.unnest(v_in) AS i WHERE i.sub IS NULL OR (i.read_at IS NULL AND NOT i.seen_only)) THEN
    RAISE EXCEPTION 'a user state needs a sub, and read_at unless seen_only' USING ERRCODE = 'null_value_not_allowed';
  END IF;

  -- Lock the rows the batch has, in sub order, before deciding on them: nobody changes them until commit.
  SELECT pg_catalog.count(*) INTO v_present FROM (
    SELECT 1 FROM public.users AS u WHERE u.cognito_user_id = ANY (ARRAY(SELECT i.sub FROM pg_catalog.unnest(v_in) AS i))
     ORDER BY u.cognito_user_id FOR UPDATE
  ) AS locked;

  -- Every user the table has: its outcome, and one UPDATE for the states to write and the runs to mark. NULL
  -- outcome: absent, to insert below. A batch of new users only (the first run, a bulk import) skips it.
  IF v_present = 0 THEN
    v_outcomes := ARRAY(SELECT CASE WHEN i.seen_only THEN 'seen' END FROM pg_catalog.unnest(v_in) AS i);
  ELSE
    WITH i AS (
      SELECT s.* FROM pg_catalog.unnest(v_in) WITH ORDINALITY
        AS s(sub, email, display_name, handle, handle_candidates, enabled, modified_at, read_at, seen_only, k)
    ), j AS (
      SELECT i.*, u.uuid, u.synced_at, u.deleted_at, u.reconcile_run,
             u.synced_at IS NULL OR u.synced_at < i.read_at AS newer,
             (u.email, u.display_name, u.enabled) IS NOT DISTINCT FROM (i.email, i.display_name, i.enabled)
               AND (i.handle IS NULL OR i.handle = u.handle) AS same,
             i.handle IS NOT NULL AND i.handle IS DISTINCT FROM u.handle AS wants_handle
        FROM i LEFT JOIN public.users AS u ON u.cognito_user_id = i.sub
    ), d AS (
      SELECT j.*,
             j.uuid IS NOT NULL AND j.deleted_at IS NULL AND NOT j.seen_only AND j.newer AS write,
             p_run_id IS NOT NULL AND j.uuid IS NOT NULL AND j.deleted_at IS NULL
               AND j.reconcile_run IS DISTINCT FROM p_run_id AS mark
        FROM j
    ), e AS (
      SELECT d.*,
             -- The handle follows the pool only to a handle no OTHER user holds, ignoring case.
             CASE WHEN d.write AND d.wants_handle
               THEN EXISTS (SELECT 1 FROM public.users AS o WHERE pg_catalog.lower(o.handle) = pg_catalog.lower(d.handle) AND o.uuid <> d.uuid)
               ELSE false END AS handle_taken
        FROM d
    ), decided AS (
      SELECT e.*,
             CASE
               WHEN e.uuid IS NULL THEN CASE WHEN e.seen_only THEN 'seen' END
               WHEN e.deleted_at IS NOT NULL THEN 'erased'
               WHEN e.seen_only THEN 'seen'
               WHEN NOT e.newer THEN CASE WHEN e.synced_at = e.read_at AND e.same THEN 'unchanged' ELSE 'stale' END
               WHEN e.handle_taken THEN 'updated_handle_conflict'
               WHEN e.same THEN 'unchanged'
               ELSE 'updated'
             END AS outcome
        FROM e
    ), written AS (
      -- synced_at moves even when nothing else changes: an older state read in between (A, then B, then A
      -- again) must not win later. A stale, seen or unchanged user is only marked as seen by the run.
      UPDATE public.users AS u
         SET email = CASE WHEN x.write THEN x.email ELSE u.email END,
             display_name = CASE WHEN x.write THEN x.display_name ELSE u.display_name END,
             handle = CASE WHEN x.write AND x.wants_handle AND NOT x.handle_taken THEN x.handle ELSE u.handle END,
             enabled = CASE WHEN x.write THEN x.enabled ELSE u.enabled END,
             pool_modified_at = CASE WHEN x.write THEN x.modified_at ELSE u.pool_modified_at END,
             synced_at = CASE WHEN x.write THEN x.read_at ELSE u.synced_at END,
             reconcile_run = coalesce(p_run_id, u.reconcile_run)
        FROM decided AS x
       WHERE u.uuid = x.uuid AND (x.write OR x.mark)
    )
    SELECT pg_catalog.array_agg(x.outcome ORDER BY x.k) INTO v_outcomes FROM decided AS x;
  END IF;

  IF pg_catalog.array_position(v_outcomes, NULL) IS NULL THEN
    RETURN v_outcomes;
  END IF;
  -- The absent users in one INSERT with their first candidate; the few it skips (handle taken, tombstoned,
  -- inserted meanwhile by someone else) go one at a time through insert_user.
  WITH inserted AS (
    INSERT INTO public.users (cognito_user_id, email, display_name, handle, enabled, pool_modified_at, synced_at, reconcile_run)
    SELECT i.sub, i.email, i.display_name, i.handle_candidates[1], i.enabled, i.modified_at, i.read_at, p_run_id
      FROM pg_catalog.unnest(v_in) WITH ORDINALITY AS i(sub, email, display_name, handle, handle_candidates, enabled, modified_at, read_at, seen_only, k)
     WHERE v_outcomes[i.k] IS NULL
     ORDER BY i.sub
    ON CONFLICT DO NOTHING
    RETURNING cognito_user_id
  )
  SELECT coalesce(pg_catalog.array_agg(inserted.cognito_user_id), '{}') INTO v_inserted FROM inserted;

  FOR k IN 1 .. pg_catalog.array_length(v_outcomes, 1) LOOP
    CONTINUE WHEN v_outcomes[k] IS NOT NULL;
    v_user := v_in[k];
    IF v_user.sub = ANY (v_inserted) THEN
      v_outcomes[k] := 'inserted';
      CONTINUE;
    END IF;
    v_result := sync.insert_user(v_user.sub, v_user.email, v_user.display_name, v_user.handle_candidates, v_user.enabled,
      v_user.modified_at, v_user.read_at, p_run_id);
    IF v_result = 'exists' THEN
      -- Inserted by a concurrent writer after our look: decide again on the row, now there.
      IF p_depth >= 2 THEN
        RAISE EXCEPTION 'could not settle user %', v_user.sub USING ERRCODE = 'object_not_in_prerequisite_state';
      END IF;
      v_outcomes[k] := (sync.apply_batch(ARRAY[p_users[k]], p_run_id, p_depth + 1))[1];
    ELSE
      v_outcomes[k] := CASE WHEN v_result = 'erased' THEN 'erased' ELSE 'inserted' END;
    END IF;
  END LOOP;
  RETURN v_outcomes;
END
$fn$;

-- The one writer of user states: a reconcile page (at most 60 users, ListUsers' page size) or one sync message.
-- Each element of p_users:
--   sub                text, required
--   email, name        text (name is display_name), or null
--   handle_candidates  text[], used when the user is inserted (default: [handle]); see insert_user
--   handle             text, the handle the pool asks for: an existing row takes it when no OTHER user holds it
--                      ignoring case, and keeps its handle when it is null
--   enabled            boolean, required unless seen_only
--   modified_at        timestamptz, Cognito's UserLastModifiedDate
--   read_at            timestamptz, when the caller read this state from the pool; required unless seen_only
--   seen_only          boolean: the user is in the pool but not to be written (e.g. unconfirmed)
-- With p_run_id (an open reconcile run), every user the pool holds and the table has is marked as seen by the
-- run, whatever its outcome: a user the pool holds is never pruned.
-- Rows come back in sub order, the order the users are written in, so that overlapping batches take row locks
-- in one order and wait rather than deadlock. outcome: 'inserted'; 'updated'; 'updated_handle_conflict'
-- (applied, but the requested handle is another user's: the old one stays); 'unchanged'; 'stale'; 'seen';
-- 'erased' (tombstoned: nothing written); 'refused' (error_code: the SQLSTATE the database refused the user
-- with; nothing of that user is written).
CREATE FUNCTION sync.apply_users(p_users jsonb, p_run_id bigint DEFAULT NULL)
RETURNS TABLE (cognito_user_id text, outcome text, error_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  v_users jsonb[];
  v_batch boolean;
  v_outcomes text[];
  v_codes text[];
BEGIN
  IF pg_catalog.jsonb_typeof(p_users) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'sync.apply_users takes a JSON array of users' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- The per-user path below costs one subtransaction a user; a backend caches 64 of them before every
  -- snapshot on the server gets slower, so a batch stays within one ListUsers page.
  IF pg_catalog.jsonb_array_length(p_users) > 60 THEN
    RAISE EXCEPTION 'sync.apply_users takes at most 60 users, got %', pg_catalog.jsonb_array_length(p_users)
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF p_run_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM sync.reconcile_runs AS r WHERE r.id = p_run_id AND r.completed_at IS NULL
  ) THEN
    RAISE EXCEPTION 'reconcile run % is not open', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  SELECT coalesce(pg_catalog.array_agg(e.value ORDER BY e.value ->> 'sub', e.n), '{}'),
         pg_catalog.count(DISTINCT e.value ->> 'sub') = pg_catalog.count(*)
    INTO v_users, v_batch
    FROM pg_catalog.jsonb_array_elements(p_users) WITH ORDINALITY AS e(value, n);

  -- Fast path: the whole batch at once, in one subtransaction. When the database refuses some user, the batch
  -- is rolled back and written again user by user, each in its own subtransaction, so that the refused user
  -- costs nobody else. So is a batch that names a sub twice, whose states must apply in order. Other errors
  -- (a deadlock, a cancelled statement) abort the call: those are worth a retry.
  IF v_batch THEN
    BEGIN
      v_outcomes := sync.apply_batch(v_users, p_run_id, 0);
      v_codes := pg_catalog.array_fill(NULL::text, ARRAY[pg_catalog.cardinality(v_users)]);
    EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
      v_batch := false;
    END;
  END IF;
  IF NOT v_batch THEN
    v_outcomes := '{}';
    v_codes := '{}';
    FOR k IN 1 .. pg_catalog.cardinality(v_users) LOOP
      BEGIN
        v_outcomes[k] := (sync.apply_batch(ARRAY[v_users[k]], p_run_id, 0))[1];
      EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
        v_outcomes[k] := 'refused';
        v_codes[k] := SQLSTATE;
        -- The refused state is not written, but the pool holds the user: the run saw it.
        IF p_run_id IS NOT NULL THEN
          UPDATE public.users AS u SET reconcile_run = p_run_id
            WHERE u.cognito_user_id = v_users[k] ->> 'sub' AND u.deleted_at IS NULL
              AND u.reconcile_run IS DISTINCT FROM p_run_id;
        END IF;
      END;
    END LOOP;
  END IF;
  RETURN QUERY
    SELECT v_users[k] ->> 'sub', v_outcomes[k], v_codes[k]
      FROM pg_catalog.generate_subscripts(v_users, 1) AS k ORDER BY k;
END
$fn$;

-- Erasure (GDPR art. 17), in one transaction: the tombstone, then the row deleted (with its activities, by
-- their ON DELETE CASCADE) or anonymized (email, name and handle gone, disabled, deleted_at set; its
-- activities stay, which is what that policy is for). Works when the row does not exist: the tombstone alone
-- keeps a late sign-up out. A row still holding personal data is erased even when the tombstone exists, so a
-- retried erasure converges whatever stopped the first. outcome: 'erased'; 'already_erased' (tombstone and
-- row were already so: nothing written); 'absent_tombstoned' (no row; the tombstone is written).
CREATE FUNCTION sync.erase_user(p_sub text, p_policy text) RETURNS text
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
  -- Exclusive against the insert trigger's shared lock: see section 4.
  PERFORM pg_catalog.pg_advisory_xact_lock(3, pg_catalog.hashtext(p_sub) & 15);
  INSERT INTO sync.erased_users (cognito_user_id) VALUES (p_sub) ON CONFLICT DO NOTHING;
  v_tombstoned := FOUND;
  IF p_policy = 'delete' THEN
    DELETE FROM public.users AS u WHERE u.cognito_user_id = p_sub;
  ELSE
    UPDATE public.users AS u
       SET email = NULL, display_name = NULL, handle = NULL, enabled = false, deleted_at = pg_catalog.now()
     WHERE u.cognito_user_id = p_sub AND u.deleted_at IS NULL;
  END IF;
  RETURN CASE WHEN FOUND THEN 'erased' WHEN v_tombstoned THEN 'absent_tombstoned' ELSE 'already_erased' END;
END
$fn$;

-- Reconcile runs. begin_reconcile: the open run (resumed, with the token of the page to read next) or a new one.
CREATE FUNCTION sync.begin_reconcile()
RETURNS TABLE (run_id bigint, started_at timestamptz, pagination_token text, pages integer, scanned bigint, resumed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  -- A concurrent begin waits on the one-open-run index and then resumes the run the other one started.
  RETURN QUERY
    INSERT INTO sync.reconcile_runs AS r DEFAULT VALUES ON CONFLICT DO NOTHING
    RETURNING r.id, r.started_at, r.pagination_token, r.pages, r.scanned, false;
  IF NOT FOUND THEN
    RETURN QUERY
      SELECT r.id, r.started_at, r.pagination_token, r.pages, r.scanned, true
        FROM sync.reconcile_runs AS r WHERE r.completed_at IS NULL;
  END IF;
END
$fn$;

-- One page of a run: apply_users with the run, then the run's counts and the token of the next page, in the
-- same transaction as the writes. p_page_token: the token this page was read with (NULL for the first); a
-- page read from a token the run has already moved past (two invocations at once) is refused, nothing
-- written. p_next_token NULL: this was the last page, and the run is complete.
CREATE FUNCTION sync.apply_reconcile_page(p_run_id bigint, p_page_token text, p_users jsonb, p_next_token text)
RETURNS TABLE (cognito_user_id text, outcome text, error_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_run record;
  v_result record;
  v_counts bigint[] := '{0,0,0,0,0,0,0,0,0}';
  v_slot integer;
BEGIN
  -- The row lock makes a concurrent page of the same run wait, and then see that the token moved.
  SELECT r.pagination_token, r.completed_at INTO v_run FROM sync.reconcile_runs AS r WHERE r.id = p_run_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no reconcile run %', p_run_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_run.completed_at IS NOT NULL THEN
    RAISE EXCEPTION 'reconcile run % is complete', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF v_run.pagination_token IS DISTINCT FROM p_page_token THEN
    RAISE EXCEPTION 'reconcile run % has moved past this page', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  FOR v_result IN SELECT a.cognito_user_id AS sub, a.outcome AS outcome, a.error_code AS code FROM sync.apply_users(p_users, p_run_id) AS a LOOP
    v_slot := pg_catalog.array_position(
      ARRAY['inserted', 'updated', 'updated_handle_conflict', 'unchanged', 'stale', 'seen', 'erased', 'refused'], v_result.outcome);
    v_counts[v_slot] := v_counts[v_slot] + 1;
    cognito_user_id := v_result.sub;
    outcome := v_result.outcome;
    error_code := v_result.code;
    RETURN NEXT;
  END LOOP;
  UPDATE sync.reconcile_runs AS r
     SET pagination_token = p_next_token,
         pages = r.pages + 1,
         scanned = r.scanned + pg_catalog.jsonb_array_length(p_users),
         inserted = r.inserted + v_counts[1],
         -- A user whose handle stayed is updated all the same; handle_conflicts says how many of them.
         updated = r.updated + v_counts[2] + v_counts[3],
         handle_conflicts = r.handle_conflicts + v_counts[3],
         unchanged = r.unchanged + v_counts[4],
         stale = r.stale + v_counts[5],
         seen = r.seen + v_counts[6],
         erased = r.erased + v_counts[7],
         refused = r.refused + v_counts[8],
         completed_at = CASE WHEN p_next_token IS NULL THEN pg_catalog.now() END
   WHERE r.id = p_run_id;
END
$fn$;

-- When the pool no longer accepts the saved token (it expires), the open run reads the pool again from the
-- first page. What it has seen so far stays valid: a mark only says "in the pool after the run started".
CREATE FUNCTION sync.rewind_reconcile(p_run_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  UPDATE sync.reconcile_runs AS r SET pagination_token = NULL WHERE r.id = p_run_id AND r.completed_at IS NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'reconcile run % is not open', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
END
$fn$;

-- Rows the complete run did not see: the subs after p_after_sub, in order, at most p_max (1-1000). Only rows
-- created before the run started (one created during the run may have been added to the pool behind the
-- run's position) and not already anonymized. Refused for a run that is not complete (it has not seen the
-- whole pool) or that a newer run has superseded (the newer run's marks replace its own, so every user would
-- look unseen). The caller re-checks each candidate against the pool (AdminGetUser) before erase_user.
CREATE FUNCTION sync.prune_candidates(p_run_id bigint, p_after_sub text, p_max integer) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v_run record;
BEGIN
  IF p_max IS NULL OR p_max < 1 OR p_max > 1000 THEN
    RAISE EXCEPTION 'p_max must be 1 to 1000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT r.started_at, r.completed_at INTO v_run FROM sync.reconcile_runs AS r WHERE r.id = p_run_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no reconcile run %', p_run_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_run.completed_at IS NULL THEN
    RAISE EXCEPTION 'reconcile run % is not complete: it has not seen the whole pool', p_run_id
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF EXISTS (SELECT 1 FROM sync.reconcile_runs AS r WHERE r.id > p_run_id) THEN
    RAISE EXCEPTION 'reconcile run % is superseded by a newer run', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN QUERY
    SELECT u.cognito_user_id FROM public.users AS u
     WHERE u.cognito_user_id > coalesce(p_after_sub, '')
       AND u.reconcile_run IS DISTINCT FROM p_run_id
       AND u.created_at < v_run.started_at
       AND u.deleted_at IS NULL
     ORDER BY u.cognito_user_id
     LIMIT p_max;
END
$fn$;

-- After pruning: how many users the run's prune erased, for the run's record.
CREATE FUNCTION sync.record_prune(p_run_id bigint, p_pruned bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  UPDATE sync.reconcile_runs AS r SET pruned = r.pruned + p_pruned, pruned_at = pg_catalog.now()
   WHERE r.id = p_run_id AND r.completed_at IS NOT NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'reconcile run % is not complete', p_run_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
END
$fn$;

-- The PreSignUp check: whether any user holds the handle, ignoring case (through users_handle_lower_key).
-- Only a hint: another sign-up may take the handle before this one is confirmed; sign_up then adjusts it.
CREATE FUNCTION sync.handle_taken(p_handle text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT EXISTS (SELECT 1 FROM public.users AS u WHERE pg_catalog.lower(u.handle) = pg_catalog.lower(p_handle));
$fn$;

-- Ownership and EXECUTE. A new owner must hold CREATE on the function's schema (only for the change itself;
-- superusers skip the check, RDS's master user does not), so the owner holds it just while it takes over.
-- Creating a function grants EXECUTE to PUBLIC, and per-schema default privileges cannot take a global default
-- away: the grants are revoked after the functions exist.
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.refuse_erased_insert() OWNER TO users_sync_owner;
ALTER FUNCTION sync.keep_erased() OWNER TO users_sync_owner;
ALTER FUNCTION sync.sign_up(text, text, text, text[], timestamptz) OWNER TO users_sync_owner;
ALTER FUNCTION sync.insert_user(text, text, text, text[], boolean, timestamptz, timestamptz, bigint) OWNER TO users_sync_owner;
ALTER FUNCTION sync.apply_batch(jsonb[], bigint, integer) OWNER TO users_sync_owner;
ALTER FUNCTION sync.apply_users(jsonb, bigint) OWNER TO users_sync_owner;
ALTER FUNCTION sync.erase_user(text, text) OWNER TO users_sync_owner;
ALTER FUNCTION sync.begin_reconcile() OWNER TO users_sync_owner;
ALTER FUNCTION sync.apply_reconcile_page(bigint, text, jsonb, text) OWNER TO users_sync_owner;
ALTER FUNCTION sync.rewind_reconcile(bigint) OWNER TO users_sync_owner;
ALTER FUNCTION sync.prune_candidates(bigint, text, integer) OWNER TO users_sync_owner;
ALTER FUNCTION sync.record_prune(bigint, bigint) OWNER TO users_sync_owner;
ALTER FUNCTION sync.handle_taken(text) OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sync FROM PUBLIC;

-- 6. The roles the functions log in as -----------------------------------------------------------------------
-- Created if missing, adopted if present (roles belong to the server, not to this database). On RDS, rds_iam
-- makes a role authenticate with IAM tokens instead of a password.
DO $$
DECLARE
  v_role text;
BEGIN
  FOREACH v_role IN ARRAY ARRAY['sync_writer', 'user_reconciler', 'handle_checker'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
      EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', v_role);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
      EXECUTE format('GRANT rds_iam TO %I', v_role);
    END IF;
  END LOOP;
END
$$;

-- The replay function (SQS batches, a 30 s function): statements of one batch, never a long idle transaction.
ALTER ROLE sync_writer SET statement_timeout = '10s';
ALTER ROLE sync_writer SET idle_in_transaction_session_timeout = '20s';
-- The reconcile function: pages of 60 users, and a prune that re-checks candidates against the pool between calls.
ALTER ROLE user_reconciler SET statement_timeout = '30s';
ALTER ROLE user_reconciler SET idle_in_transaction_session_timeout = '60s';
-- PreSignUp: one index lookup inside Cognito's 5 s budget.
ALTER ROLE handle_checker SET statement_timeout = '1s';
ALTER ROLE handle_checker SET idle_in_transaction_session_timeout = '5s';

-- An adopted role keeps nothing it may have been given by hand: no table, sequence or schema privilege.
REVOKE ALL ON ALL TABLES IN SCHEMA public, sync FROM sync_writer, user_reconciler, handle_checker;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public, sync FROM sync_writer, user_reconciler, handle_checker;
REVOKE ALL ON SCHEMA public FROM sync_writer, user_reconciler, handle_checker;

-- USAGE on sync only names the functions; it opens none of its tables.
GRANT USAGE ON SCHEMA sync TO signup_writer, sync_writer, user_reconciler, handle_checker;

-- signup_writer (the post-confirmation trigger) gains sync.sign_up and keeps its 0002 table grants for now:
-- the trigger's code still writes public.users directly. A later migration revokes them once it calls
-- sync.sign_up; until then the triggers above keep that path from resurrecting anybody.
GRANT EXECUTE ON FUNCTION sync.sign_up(text, text, text, text[], timestamptz) TO signup_writer;
-- sync_writer: the one asynchronous writer (replay of queued sign-ups, user events).
GRANT EXECUTE ON FUNCTION sync.sign_up(text, text, text, text[], timestamptz) TO sync_writer;
GRANT EXECUTE ON FUNCTION sync.apply_users(jsonb, bigint) TO sync_writer;
GRANT EXECUTE ON FUNCTION sync.erase_user(text, text) TO sync_writer;
-- user_reconciler: the periodic reconcile and its prune.
GRANT EXECUTE ON FUNCTION sync.apply_users(jsonb, bigint) TO user_reconciler;
GRANT EXECUTE ON FUNCTION sync.erase_user(text, text) TO user_reconciler;
GRANT EXECUTE ON FUNCTION sync.begin_reconcile() TO user_reconciler;
GRANT EXECUTE ON FUNCTION sync.apply_reconcile_page(bigint, text, jsonb, text) TO user_reconciler;
GRANT EXECUTE ON FUNCTION sync.rewind_reconcile(bigint) TO user_reconciler;
GRANT EXECUTE ON FUNCTION sync.prune_candidates(bigint, text, integer) TO user_reconciler;
GRANT EXECUTE ON FUNCTION sync.record_prune(bigint, bigint) TO user_reconciler;
-- handle_checker: the PreSignUp function, which may only ask whether a handle is taken.
GRANT EXECUTE ON FUNCTION sync.handle_taken(text) TO handle_checker;

-- No temporary tables for anybody but the database's owner and superusers: a temporary object is the one
-- thing a role with no other privilege could still create. PUBLIC holds TEMPORARY on every database by
-- default; REVOKE takes the database's name as an identifier, not an expression, and the name differs per
-- stage (and per test server), hence the DO block.
DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM signup_writer, sync_writer, user_reconciler, handle_checker',
    current_database());
END
$$;
