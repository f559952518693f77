// 0003_user_lifecycle.sql as a migration: the roles, what each may call and touch, the functions' owner, the
// schema as 0003 left it, and how it applies as RDS's master user. The functions themselves are tested in
// test/sql/functions/, on the schema as it is now.
import { Client } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminQuery, startTestServer, setRolePasswords, type TestServer } from '../../support/postgres';
import {
  admin,
  applyUsers,
  as,
  beginReconcile,
  completedRun,
  erase,
  failureOf,
  migrateThrough0003,
  NEW_ROLES,
  OVERSIZED_HANDLE,
  reset,
  type Role,
  ROLES,
  row,
  state,
  useDatabase,
} from '../fixtures';

useDatabase('through 0003');

// Each function with arguments it accepts, preparing as the superuser whatever run it needs.
const CALLS: Record<string, (client: Client) => Promise<unknown>> = {
  sign_up: (client) =>
    client.query("SELECT * FROM sync.sign_up('call-' || gen_random_uuid(), NULL, NULL, ARRAY['h'], now())"),
  apply_users: (client) =>
    client.query(
      "SELECT * FROM sync.apply_users(jsonb_build_array(jsonb_build_object('sub', 'call-' || gen_random_uuid(), 'enabled', true, 'read_at', now())))",
    ),
  erase_user: (client) => client.query("SELECT sync.erase_user('call-' || gen_random_uuid(), 'delete')"),
  begin_reconcile: (client) => client.query('SELECT * FROM sync.begin_reconcile()'),
  apply_reconcile_page: async (client) => {
    const run = await beginReconcile(admin);
    return client.query("SELECT * FROM sync.apply_reconcile_page($1, $2, '[]', 'next')", [
      run.run_id,
      run.pagination_token,
    ]);
  },
  rewind_reconcile: async (client) =>
    client.query('SELECT sync.rewind_reconcile($1)', [(await beginReconcile(admin)).run_id]),
  prune_candidates: async (client) =>
    client.query('SELECT * FROM sync.prune_candidates($1, NULL, 10)', [await completedRun()]),
  record_prune: async (client) => client.query('SELECT sync.record_prune($1, 0)', [await completedRun()]),
  handle_taken: (client) => client.query("SELECT sync.handle_taken('h')"),
  // Internal helpers: callable by nobody but the other functions.
  insert_user: (client) => client.query("SELECT sync.insert_user('call-x', NULL, NULL, NULL, true, NULL, now(), NULL)"),
  apply_batch: (client) => client.query("SELECT sync.apply_batch(ARRAY['{}'::jsonb], NULL, 0)"),
};

const MAY_CALL: Record<Role, readonly string[]> = {
  signup_writer: ['sign_up'],
  sync_writer: ['sign_up', 'apply_users', 'erase_user'],
  user_reconciler: [
    'apply_users',
    'erase_user',
    'begin_reconcile',
    'apply_reconcile_page',
    'rewind_reconcile',
    'prune_candidates',
    'record_prune',
  ],
  handle_checker: ['handle_taken'],
};

const TABLE_STATEMENTS: Record<string, Record<'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE', string>> = {
  'public.users': {
    SELECT: 'SELECT email FROM public.users',
    INSERT: "INSERT INTO public.users (cognito_user_id) VALUES ('intruder')",
    UPDATE: 'UPDATE public.users SET email = NULL',
    DELETE: 'DELETE FROM public.users',
  },
  'public.activities': {
    SELECT: 'SELECT message FROM public.activities',
    INSERT: "INSERT INTO public.activities (user_uuid, message) VALUES ('00000000-0000-4000-8000-000000000000', 'x')",
    UPDATE: "UPDATE public.activities SET message = 'x'",
    DELETE: 'DELETE FROM public.activities',
  },
  'sync.erased_users': {
    SELECT: 'SELECT cognito_user_id FROM sync.erased_users',
    INSERT: "INSERT INTO sync.erased_users (cognito_user_id) VALUES ('intruder')",
    UPDATE: 'UPDATE sync.erased_users SET erased_at = now()',
    DELETE: 'DELETE FROM sync.erased_users',
  },
  'sync.reconcile_runs': {
    SELECT: 'SELECT pagination_token FROM sync.reconcile_runs',
    INSERT: 'INSERT INTO sync.reconcile_runs DEFAULT VALUES',
    UPDATE: 'UPDATE sync.reconcile_runs SET pagination_token = NULL',
    DELETE: 'DELETE FROM sync.reconcile_runs',
  },
};

const DDL: Record<string, string> = {
  'creating a table in public': 'CREATE TABLE public.intruder (id int)',
  'creating a table in sync': 'CREATE TABLE sync.intruder (id int)',
  'creating a function in sync': 'CREATE FUNCTION sync.intruder() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
  'creating a temporary table': 'CREATE TEMP TABLE intruder (id int)',
  'taking the functions owner’s role': 'SET ROLE users_sync_owner',
  'drawing from the run id sequence': "SELECT nextval('sync.reconcile_runs_id_seq')",
};

describe('privileges', () => {
  beforeEach(reset);

  const functionCases = ROLES.flatMap((role) =>
    Object.keys(CALLS).map((fn) => ({ role, fn, may: MAY_CALL[role].includes(fn) })),
  );
  for (const { role, fn, may } of functionCases) {
    if (may) {
      it(`lets ${role} call sync.${fn}`, async () => {
        expect(await failureOf(CALLS[fn]!(as[role]))).toBeUndefined();
      });
    } else {
      it(`refuses ${role} a call of sync.${fn}`, async () => {
        expect(await failureOf(CALLS[fn]!(as[role]))).toBe('42501');
      });
    }
  }

  const tableCases = NEW_ROLES.flatMap((role) =>
    Object.entries(TABLE_STATEMENTS).flatMap(([table, statements]) =>
      Object.entries(statements).map(([verb, sql]) => ({ role, table, verb, sql })),
    ),
  );
  // signup_writer keeps its 0002 grants on public.users for now; it gets nothing on the new tables.
  const signupWriterCases = ['sync.erased_users', 'sync.reconcile_runs'].flatMap((table) =>
    Object.entries(TABLE_STATEMENTS[table]!).map(([verb, sql]) => ({
      role: 'signup_writer' as const,
      table,
      verb,
      sql,
    })),
  );
  for (const { role, table, verb, sql } of [...tableCases, ...signupWriterCases]) {
    it(`refuses ${role} ${verb} on ${table}`, async () => {
      expect(await failureOf(as[role].query(sql))).toBe('42501');
    });
  }

  const ddlCases = ROLES.flatMap((role) => Object.entries(DDL).map(([what, sql]) => ({ role, what, sql })));
  for (const { role, what, sql } of ddlCases) {
    it(`refuses ${role} ${what}`, async () => {
      expect(await failureOf(as[role].query(sql))).toBe('42501');
    });
  }

  it('makes every sync function a SECURITY DEFINER of users_sync_owner with a fixed search_path and no EXECUTE for PUBLIC', async () => {
    const { rows } = await admin.query<{
      proname: string;
      definer: boolean;
      owner: string;
      config: string[] | null;
      public_execute: boolean;
    }>(
      `SELECT p.proname, p.prosecdef AS definer, pg_get_userbyid(p.proowner) AS owner, p.proconfig AS config,
              EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a WHERE a.grantee = 0) AS public_execute
         FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = 'sync' ORDER BY p.proname`,
    );
    expect(rows.map((fn) => fn.proname)).toEqual(
      expect.arrayContaining([...Object.keys(CALLS), 'keep_erased', 'refuse_erased_insert']),
    );
    for (const fn of rows) {
      expect(fn, fn.proname).toMatchObject({ definer: true, owner: 'users_sync_owner', public_execute: false });
      expect(fn.config, fn.proname).toContain('search_path=pg_catalog, pg_temp');
    }
  });

  it('gives the functions’ owner no login, no superuser, nothing on activities and no CREATE anywhere', async () => {
    const { rows } = await admin.query(
      `SELECT r.rolcanlogin, r.rolsuper, r.rolcreaterole,
              has_table_privilege('users_sync_owner', 'public.activities', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE') AS activities,
              has_schema_privilege('users_sync_owner', 'sync', 'CREATE') AS create_sync,
              has_schema_privilege('users_sync_owner', 'public', 'CREATE') AS create_public,
              has_database_privilege('users_sync_owner', current_database(), 'TEMPORARY') AS temporary
         FROM pg_roles AS r WHERE r.rolname = 'users_sync_owner'`,
    );
    expect(rows).toEqual([
      {
        rolcanlogin: false,
        rolsuper: false,
        rolcreaterole: false,
        activities: false,
        create_sync: false,
        create_public: false,
        temporary: false,
      },
    ]);
  });

  it('gives the function roles no privilege on any table or sequence, and keeps them plain roles', async () => {
    const { rows } = await admin.query<{ rolname: string; tables: string[] }>(
      `SELECT r.rolname,
              ARRAY(SELECT c.oid::regclass::text FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
                     WHERE n.nspname IN ('public', 'sync') AND c.relkind IN ('r', 'S')
                       AND (has_table_privilege(r.rolname, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                            OR (c.relkind = 'S' AND has_sequence_privilege(r.rolname, c.oid, 'USAGE, SELECT, UPDATE')))
                     ORDER BY 1) AS tables
         FROM pg_roles AS r WHERE r.rolname = ANY ($1) AND NOT r.rolsuper AND NOT r.rolcreatedb AND NOT r.rolcreaterole
        ORDER BY r.rolname`,
      [NEW_ROLES],
    );
    expect(rows).toEqual([
      { rolname: 'handle_checker', tables: [] },
      { rolname: 'sync_writer', tables: [] },
      { rolname: 'user_reconciler', tables: [] },
    ]);
  });
});

// What 0003 made, before 0004 took signup_writer's table grants and added the handle rule: its apply_users
// refused a handle the index could not hold, and its triggers kept signup_writer's direct writes out.
describe('0003 schema', () => {
  beforeEach(reset);

  it('refuses a user the database cannot index with its SQLSTATE and lands the rest of the batch', async () => {
    await applyUsers([state('u-old', 1, { handle: 'old' })]);
    const before = await row('u-old');
    const results = await applyUsers([
      state('u-a', 1),
      state('u-big', 1, { handle: OVERSIZED_HANDLE, handle_candidates: [OVERSIZED_HANDLE] }),
      state('u-old', 2, { email: 'changed@example.com', handle: OVERSIZED_HANDLE }),
      state('u-z', 1),
    ]);
    expect(results).toEqual([
      { cognito_user_id: 'u-a', outcome: 'inserted', error_code: null },
      { cognito_user_id: 'u-big', outcome: 'refused', error_code: '54000' },
      { cognito_user_id: 'u-old', outcome: 'refused', error_code: '54000' },
      { cognito_user_id: 'u-z', outcome: 'inserted', error_code: null },
    ]);
    expect(await row('u-big')).toBeUndefined();
    expect(await row('u-old')).toEqual(before);
    expect(await row('u-a')).toBeDefined();
  });

  it('keeps signup_writer’s direct writes from resurrecting or refilling an erased user', async () => {
    // The statement the post-confirmation code runs today, with 0002's table grants.
    const upsert = `INSERT INTO public.users AS u (cognito_user_id, email, display_name, handle) VALUES ($1, $2, $3, $4)
      ON CONFLICT (cognito_user_id) DO UPDATE SET email = EXCLUDED.email, display_name = EXCLUDED.display_name
      WHERE (u.email, u.display_name) IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.display_name) RETURNING (xmax = 0) AS inserted`;
    await erase('e-del', 'delete');
    await applyUsers([state('e-anon', 1)]);
    await erase('e-anon', 'anonymize');
    const anonymized = await row('e-anon');
    expect((await as.signup_writer.query(upsert, ['e-del', 'a@example.com', 'A', 'a'])).rows).toEqual([]);
    expect((await as.signup_writer.query(upsert, ['e-anon', 'b@example.com', 'B', 'b'])).rows).toEqual([]);
    const update = await as.signup_writer.query(
      "UPDATE public.users SET email = 'c@example.com' WHERE cognito_user_id = 'e-anon'",
    );
    expect(update.rowCount).toBe(0);
    expect(await row('e-del')).toBeUndefined();
    expect(await row('e-anon')).toEqual(anonymized);
  });
});

describe('0003_user_lifecycle.sql on RDS', () => {
  // RDS's master user is no superuser: it owns the database and has CREATEROLE, and since PostgreSQL 16 it
  // holds ADMIN OPTION on the roles it creates. A server of its own, where that user creates every role.
  let rds: TestServer;
  const master = 'rds_master';
  const masterPassword = 'rds-master-local-test';

  function migrateAs(database: string): Promise<string[]> {
    return migrateThrough0003(`postgres://${master}:${masterPassword}@127.0.0.1:${rds.port}/${database}`);
  }

  beforeAll(async () => {
    rds = await startTestServer();
    const superuser = rds.url();
    await adminQuery(superuser, 'CREATE ROLE rds_iam');
    // The statements name the constant `master` (rds_master) literally: DDL takes no parameters.
    await adminQuery(superuser, 'CREATE ROLE rds_master LOGIN CREATEROLE');
    await setRolePasswords(superuser, [master], masterPassword);
    await adminQuery(superuser, 'GRANT rds_iam TO rds_master WITH ADMIN OPTION');
    await adminQuery(superuser, 'CREATE DATABASE app OWNER rds_master');
    await adminQuery(superuser, 'CREATE DATABASE app_two OWNER rds_master');
    await migrateAs('app');
  });

  afterAll(async () => {
    await rds?.destroy();
  });

  it('applies as the master user, hands the functions to users_sync_owner and grants rds_iam to each role', async () => {
    const client = new Client({ connectionString: rds.url('app') });
    await client.connect();
    try {
      const { rows: owners } = await client.query<{ owner: string }>(
        "SELECT DISTINCT pg_get_userbyid(p.proowner) AS owner FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace WHERE n.nspname = 'sync'",
      );
      expect(owners).toEqual([{ owner: 'users_sync_owner' }]);
      const { rows } = await client.query<{ role: string; iam: boolean }>(
        "SELECT r AS role, pg_has_role(r, 'rds_iam', 'MEMBER') AS iam FROM unnest($1::text[]) AS r ORDER BY r",
        [[...ROLES]],
      );
      expect(rows.every((role) => role.iam)).toBe(true);
      const { rows: temp } = await client.query(
        "SELECT has_database_privilege('sync_writer', 'app', 'TEMPORARY') AS temp",
      );
      expect(temp).toEqual([{ temp: false }]);
    } finally {
      await client.end();
    }
  });

  it('adopts the roles another database of the same server already made', async () => {
    expect(await migrateAs('app_two')).toContain('0003_user_lifecycle.sql');
  });
});
