-- signup_writer: the role the post-confirmation function logs in as (IAM database authentication on RDS).
-- It can do exactly what upsertUser needs on public.users and nothing else: no DDL, no other table, no
-- DELETE, and UPDATE only of the two columns a retried or refreshed sign-up may change.
-- Idempotent: a role that already exists (made by hand, or in another database of the same server) is adopted.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'signup_writer') THEN
    CREATE ROLE signup_writer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
  END IF;
  -- rds_iam exists only on RDS; membership makes the role authenticate with IAM tokens instead of a password.
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO signup_writer;
  END IF;
END
$$;

-- A short-lived trigger connection never needs long statements or idle transactions.
ALTER ROLE signup_writer SET statement_timeout = '5s';
ALTER ROLE signup_writer SET idle_in_transaction_session_timeout = '10s';

-- PUBLIC may create in schema public on databases created before PostgreSQL 15; nobody but owners should.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM signup_writer;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM signup_writer;
REVOKE ALL ON SCHEMA public FROM signup_writer;

GRANT USAGE ON SCHEMA public TO signup_writer;
-- SELECT: ON CONFLICT and RETURNING read the row; INSERT: new users; UPDATE: only email and display_name.
GRANT SELECT, INSERT ON public.users TO signup_writer;
GRANT UPDATE (email, display_name) ON public.users TO signup_writer;
