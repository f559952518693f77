-- The groups people belong to in the user pool (public.user_groups, written only by the sync functions), and a
-- person's own data as one JSON document (export.user_data), read by a role that can read nothing else.
-- Tables, columns, roles, triggers and grants only; the functions are in sql/functions/sync and
-- sql/functions/export.

-- 1. Memberships ----------------------------------------------------------------------------------------------
-- Cognito group names are 1 to 128 characters. seen_at: when the writer last read this membership from the
-- pool (a user's group list, or a page of a group's members); it orders a removal against a newer sighting.
-- The primary key answers "which groups is U in"; the second index answers "who is in group G" and the app's
-- "is U in G" with one lookup each.
CREATE TABLE public.user_groups (
  user_uuid  uuid        NOT NULL REFERENCES public.users (uuid) ON DELETE CASCADE,
  group_name text        NOT NULL CHECK (pg_catalog.length(group_name) BETWEEN 1 AND 128),
  seen_at    timestamptz NOT NULL,
  PRIMARY KEY (user_uuid, group_name)
);
CREATE INDEX user_groups_group_name_idx ON public.user_groups (group_name, user_uuid);

-- When the user's whole group list was last read from the pool: the order key of sync.set_user_groups, apart
-- from synced_at because attributes and groups are read by different calls at different times. NULL: never.
ALTER TABLE public.users ADD COLUMN groups_synced_at timestamptz;

-- A group deleted from the pool, and when that was read: a group list read before the deletion and delivered
-- after it does not bring the group back. A group made again under the same name is written by any read after
-- deleted_at. A group name names a group, not a person.
CREATE TABLE sync.deleted_groups (
  group_name text        PRIMARY KEY,
  deleted_at timestamptz NOT NULL
);

-- The functions' owner reads and writes memberships, and sets the order key on the user's row.
GRANT SELECT, INSERT, UPDATE (seen_at), DELETE ON public.user_groups TO users_sync_owner;
GRANT UPDATE (groups_synced_at) ON public.users TO users_sync_owner;
GRANT SELECT, INSERT, UPDATE (deleted_at) ON sync.deleted_groups TO users_sync_owner;

-- Nobody but the table's owner and the sync functions writes memberships: no function role holds a privilege
-- on the tables (said here, because a hand-made grant would otherwise go unnoticed).
REVOKE ALL ON public.user_groups, sync.deleted_groups FROM PUBLIC;
REVOKE ALL ON public.user_groups, sync.deleted_groups FROM signup_writer, sync_writer, user_reconciler, handle_checker;

-- 2. Erasure takes the memberships ----------------------------------------------------------------------------
-- Under the delete policy the memberships go with the row (ON DELETE CASCADE). Under anonymize the row stays for
-- its activities, and its memberships go when deleted_at is set, whoever sets it. The definition that stands is
-- sql/functions/sync/forget_erased_groups.sql (re-applied after the migrations); this one lets the trigger be
-- created here.
CREATE FUNCTION sync.forget_erased_groups() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  DELETE FROM public.user_groups AS g WHERE g.user_uuid = NEW.uuid;
  RETURN NULL;
END
$fn$;
GRANT CREATE ON SCHEMA sync TO users_sync_owner;
ALTER FUNCTION sync.forget_erased_groups() OWNER TO users_sync_owner;
REVOKE CREATE ON SCHEMA sync FROM users_sync_owner;
REVOKE EXECUTE ON FUNCTION sync.forget_erased_groups() FROM PUBLIC;

CREATE TRIGGER users_forget_erased_groups AFTER UPDATE OF deleted_at ON public.users
  FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
  EXECUTE FUNCTION sync.forget_erased_groups();

-- 3. A person's data, read by a role that reads nothing else -------------------------------------------------
-- export.user_data (sql/functions/export/user_data.sql) is a SECURITY DEFINER function of users_export_owner, a
-- NOLOGIN role that may only SELECT the tables a person's data is in. user_exporter, the role the export
-- function logs in as, may only EXECUTE that function. Both created if missing, adopted if present (roles
-- belong to the server). The migrating user grants itself users_export_owner to hand the function over, as
-- 0003 does for users_sync_owner.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'users_export_owner') THEN
    CREATE ROLE users_export_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
  IF NOT pg_has_role(current_user, 'users_export_owner', 'SET') THEN
    EXECUTE format('GRANT users_export_owner TO %I', current_user);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'user_exporter') THEN
    CREATE ROLE user_exporter LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
  -- rds_iam exists only on RDS: the role then logs in with IAM tokens instead of a password.
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO user_exporter;
  END IF;
END
$$;

CREATE SCHEMA export;
REVOKE ALL ON SCHEMA export FROM PUBLIC;

GRANT USAGE ON SCHEMA public, sync TO users_export_owner;
GRANT SELECT ON public.users, public.user_groups, public.activities, sync.erased_users TO users_export_owner;

-- An adopted role keeps nothing it may have been given by hand.
REVOKE ALL ON ALL TABLES IN SCHEMA public, sync FROM user_exporter;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public, sync FROM user_exporter;
REVOKE ALL ON SCHEMA public, sync FROM user_exporter;
GRANT USAGE ON SCHEMA export TO user_exporter;

-- One statement per invocation, read only; an operator's export never holds a transaction open. Five minutes
-- idle closes the session of a reaped container, as for the other function roles.
ALTER ROLE user_exporter SET default_transaction_read_only = on;
ALTER ROLE user_exporter SET statement_timeout = '10s';
ALTER ROLE user_exporter SET idle_in_transaction_session_timeout = '20s';
ALTER ROLE user_exporter SET idle_session_timeout = '5min';
-- Operators export one person at a time: two connections are plenty. The deployment may set its own limit.
ALTER ROLE user_exporter CONNECTION LIMIT 2;

DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC, user_exporter', current_database());
END
$$;
