-- Everything the database holds about one person, as one JSON document (GDPR art. 15 and 20), built in one
-- statement with PostgreSQL's JSON functions. NULL when the database knows nothing of the sub: no row and no
-- tombstone. Keys, in this order:
--   format       'cruddur-user-data/1': the document's shape and its version
--   sub          the sub asked for
--   exported_at  the database clock
--   user         the public.users row, every column (NULL when there is none: erased under the delete policy,
--                and an anonymized row no longer holds the sub)
--   groups       the public.user_groups rows of the user, by group name ([] when none)
--   activities   the public.activities rows of the user, oldest first ([] when none)
--   erasure      the sync.erased_users row of the sub (NULL when not erased)
-- The rows go out whole (row_to_json): a column added to those tables later is in the document without a change
-- here. Runs as users_export_owner, which may only read those four tables; callable only by user_exporter.

CREATE OR REPLACE FUNCTION export.user_data(p_sub text) RETURNS json
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT CASE WHEN u.uuid IS NULL AND e.cognito_user_id IS NULL THEN NULL ELSE
    pg_catalog.json_build_object(
      'format', 'cruddur-user-data/1',
      'sub', p_sub,
      'exported_at', pg_catalog.now(),
      'user', CASE WHEN u.uuid IS NULL THEN NULL ELSE pg_catalog.row_to_json(u) END,
      'groups', coalesce(
        (SELECT pg_catalog.json_agg(pg_catalog.row_to_json(g) ORDER BY g.group_name)
           FROM public.user_groups AS g WHERE g.user_uuid = u.uuid),
        '[]'::json),
      'activities', coalesce(
        (SELECT pg_catalog.json_agg(pg_catalog.row_to_json(a) ORDER BY a.created_at, a.uuid)
           FROM public.activities AS a WHERE a.user_uuid = u.uuid),
        '[]'::json),
      'erasure', CASE WHEN e.cognito_user_id IS NULL THEN NULL ELSE pg_catalog.row_to_json(e) END)
  END
  FROM (SELECT p_sub AS sub) AS asked
  LEFT JOIN public.users AS u ON u.cognito_user_id = asked.sub
  LEFT JOIN sync.erased_users AS e ON e.cognito_user_id = asked.sub
$fn$;

-- Handed over to users_export_owner, which needs CREATE on the schema for that just for the statement (RDS's
-- master user is not a superuser). On a function that already stands so, these are no-ops.
GRANT CREATE ON SCHEMA export TO users_export_owner;
ALTER FUNCTION export.user_data(text) OWNER TO users_export_owner;
REVOKE CREATE ON SCHEMA export FROM users_export_owner;
-- Creating a function grants EXECUTE to PUBLIC: only the export role keeps it.
REVOKE EXECUTE ON FUNCTION export.user_data(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION export.user_data(text) TO user_exporter;
