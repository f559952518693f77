-- The seeds' schema, corrected: a unique, non-null Cognito id to upsert on, case-insensitively unique
-- handles, a real foreign key from activities to users, a uuid reply_to column, and timestamptz.
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

CREATE TABLE public.users (
  uuid            uuid        PRIMARY KEY DEFAULT uuid_generate_v4(),
  cognito_user_id text        NOT NULL,
  email           text,
  display_name    text,
  handle          text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_cognito_user_id_key UNIQUE (cognito_user_id)
);

-- Cognito does not enforce preferred_username uniqueness; the database does, ignoring case.
CREATE UNIQUE INDEX users_handle_lower_key ON public.users (lower(handle));

CREATE TABLE public.activities (
  uuid                   uuid        PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_uuid              uuid        NOT NULL REFERENCES public.users (uuid) ON DELETE CASCADE,
  message                text        NOT NULL,
  replies_count          integer     NOT NULL DEFAULT 0,
  reposts_count          integer     NOT NULL DEFAULT 0,
  likes_count            integer     NOT NULL DEFAULT 0,
  reply_to_activity_uuid uuid        REFERENCES public.activities (uuid) ON DELETE SET NULL,
  expires_at             timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX activities_user_uuid_idx ON public.activities (user_uuid);
CREATE INDEX activities_created_at_idx ON public.activities (created_at DESC);
