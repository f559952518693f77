import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorCode } from '../../../lambdas/postgres/error-codes';
import { applyMigrations, MIGRATIONS_DIR } from '../../../lambdas/postgres/migrate';
import { adminQuery, startTestServer, setRolePasswords, type TestServer } from '../../support/postgres';

// On RDS the roles log in with IAM tokens; this loopback-only test server gives them a throwaway password.
const TEST_PASSWORD = 'user-lifecycle-local-test';
const ROLES = ['signup_writer', 'sync_writer', 'user_reconciler', 'handle_checker'] as const;
type Role = (typeof ROLES)[number];
const NEW_ROLES = ['sync_writer', 'user_reconciler', 'handle_checker'] as const;

let server: TestServer;
let adminUrl: string;
let admin: Client;
const clients: Client[] = [];
const as = {} as Record<Role, Client>;

function roleUrl(role: Role): string {
  return `postgres://${role}:${TEST_PASSWORD}@127.0.0.1:${server.port}/postgres`;
}

async function connectAs(role: Role): Promise<Client> {
  const client = new Client({ connectionString: roleUrl(role) });
  await client.connect();
  clients.push(client);
  return client;
}

/** The SQLSTATE a statement fails with, or undefined when it succeeds. */
async function failureOf(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (error) {
    return errorCode(error) ?? String(error);
  }
}

/** A fixed clock: minute n after 10:00 on the day the tests pretend it is. */
function at(minute: number): string {
  return new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString();
}

interface UserState {
  readonly sub: string;
  readonly email?: string | null;
  readonly name?: string | null;
  readonly handle?: string | null;
  readonly handle_candidates?: readonly (string | null)[];
  readonly enabled?: boolean | string;
  readonly modified_at?: string;
  readonly read_at?: string;
  readonly seen_only?: boolean;
}

interface Applied {
  cognito_user_id: string;
  outcome: string;
  error_code: string | null;
}

interface UserRow {
  email: string | null;
  display_name: string | null;
  handle: string | null;
  enabled: boolean;
  synced_at: Date | null;
  pool_modified_at: Date | null;
  deleted_at: Date | null;
  reconcile_run: string | null;
  // The row version's creating transaction: unchanged means nothing wrote the row.
  xmin: string;
}

function state(sub: string, minute: number, fields: Partial<UserState> = {}): UserState {
  return {
    sub,
    email: `${sub}@example.com`,
    name: `Name ${sub}`,
    handle: sub,
    enabled: true,
    modified_at: at(minute),
    read_at: at(minute),
    ...fields,
  };
}

async function applyUsers(
  users: readonly UserState[],
  runId: string | null = null,
  client: Client = as.sync_writer,
): Promise<Applied[]> {
  const { rows } = await client.query<Applied>('SELECT * FROM sync.apply_users($1::jsonb, $2)', [
    JSON.stringify(users),
    runId,
  ]);
  return rows;
}

async function outcomes(
  users: readonly UserState[],
  runId: string | null = null,
  client: Client = as.sync_writer,
): Promise<Record<string, string>> {
  const rows = await applyUsers(users, runId, client);
  return Object.fromEntries(rows.map((row) => [row.cognito_user_id, row.outcome]));
}

async function signUp(
  sub: string,
  email: string | null,
  candidates: readonly (string | null)[],
  readAt: string,
  client: Client = as.signup_writer,
): Promise<{ outcome: string; handle_adjusted: boolean }> {
  const { rows } = await client.query<{ outcome: string; handle_adjusted: boolean }>(
    'SELECT * FROM sync.sign_up($1, $2, $3, $4, $5)',
    [sub, email, email === null ? null : `Name ${sub}`, candidates, readAt],
  );
  if (rows[0] === undefined) throw new Error('sync.sign_up returned no row');
  return rows[0];
}

async function erase(sub: string, policy: string, client: Client = as.sync_writer): Promise<string> {
  const { rows } = await client.query<{ outcome: string }>('SELECT sync.erase_user($1, $2) AS outcome', [sub, policy]);
  return rows[0]?.outcome ?? 'no row';
}

async function row(sub: string): Promise<UserRow | undefined> {
  const { rows } = await admin.query<UserRow>(
    `SELECT email, display_name, handle, enabled, synced_at, pool_modified_at, deleted_at, reconcile_run, xmin::text AS xmin
       FROM public.users WHERE cognito_user_id = $1`,
    [sub],
  );
  return rows[0];
}

async function tombstoned(sub: string): Promise<boolean> {
  const { rows } = await admin.query('SELECT 1 FROM sync.erased_users WHERE cognito_user_id = $1', [sub]);
  return rows.length === 1;
}

interface Run {
  run_id: string;
  pagination_token: string | null;
  pages: number;
  scanned: string;
  resumed: boolean;
}

async function beginReconcile(client: Client = as.user_reconciler): Promise<Run> {
  const { rows } = await client.query<Run>('SELECT * FROM sync.begin_reconcile()');
  if (rows[0] === undefined) throw new Error('sync.begin_reconcile returned no row');
  return rows[0];
}

async function applyPage(
  runId: string,
  pageToken: string | null,
  users: readonly UserState[],
  nextToken: string | null,
  client: Client = as.user_reconciler,
): Promise<Record<string, string>> {
  const { rows } = await client.query<Applied>('SELECT * FROM sync.apply_reconcile_page($1, $2, $3::jsonb, $4)', [
    runId,
    pageToken,
    JSON.stringify(users),
    nextToken,
  ]);
  return Object.fromEntries(rows.map((result) => [result.cognito_user_id, result.outcome]));
}

async function completedRun(): Promise<string> {
  const run = await beginReconcile(admin);
  await applyPage(run.run_id, run.pagination_token, [], null, admin);
  return run.run_id;
}

async function pruneCandidates(runId: string, afterSub: string | null = null, max = 100): Promise<string[]> {
  const { rows } = await as.user_reconciler.query<{ sub: string }>(
    'SELECT sub FROM sync.prune_candidates($1, $2, $3) AS sub',
    [runId, afterSub, max],
  );
  return rows.map((candidate) => candidate.sub);
}

async function reset(): Promise<void> {
  await admin.query('TRUNCATE public.users, sync.erased_users, sync.reconcile_runs RESTART IDENTITY CASCADE');
}

/** A handle of 2048 distinct CJK characters: valid text within Cognito's limit, too large for the btree index. */
const OVERSIZED_HANDLE = Array.from({ length: 2048 }, (_, i) =>
  String.fromCodePoint(0x4e00 + ((i * 7919) % 20000)),
).join('');

/**
 * Applies the migrations up to and including 0003, as `url`'s user: the schema this file tests, whatever later
 * migrations change (their own tests show what they do to it).
 */
async function migrateThrough0003(url: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'through-0003-'));
  const client = new Client({ connectionString: url });
  try {
    for (const file of await readdir(MIGRATIONS_DIR)) {
      if (file.endsWith('.sql') && file < '0004') await copyFile(join(MIGRATIONS_DIR, file), join(dir, file));
    }
    await client.connect();
    return await applyMigrations(client, dir);
  } finally {
    await client.end();
    await rm(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  server = await startTestServer();
  adminUrl = server.url();
  await migrateThrough0003(adminUrl);
  await setRolePasswords(adminUrl, ROLES, TEST_PASSWORD);
  admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  for (const role of ROLES) as[role] = await connectAs(role);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.end()));
  await admin?.end();
  await server?.destroy();
});

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

describe('sync.sign_up', () => {
  beforeEach(reset);

  it('inserts a new user with the first candidate and the time its state was read', async () => {
    expect(await signUp('s-1', 'a@example.com', ['alice', 'alice_s1'], at(1))).toEqual({
      outcome: 'inserted',
      handle_adjusted: false,
    });
    expect(await row('s-1')).toMatchObject({
      email: 'a@example.com',
      display_name: 'Name s-1',
      handle: 'alice',
      enabled: true,
      synced_at: new Date(at(1)),
    });
  });

  it('changes nothing when the same sign-up is retried', async () => {
    await signUp('s-1', 'a@example.com', ['alice'], at(1));
    const before = await row('s-1');
    expect(await signUp('s-1', 'a@example.com', ['alice'], at(1))).toEqual({
      outcome: 'unchanged',
      handle_adjusted: false,
    });
    expect(await row('s-1')).toEqual(before);
  });

  it('refreshes email and name from a newer state but never the handle', async () => {
    await signUp('s-1', 'a@example.com', ['alice'], at(1));
    expect(await signUp('s-1', 'b@example.com', ['bob'], at(2))).toEqual({
      outcome: 'updated',
      handle_adjusted: false,
    });
    expect(await row('s-1')).toMatchObject({ email: 'b@example.com', handle: 'alice', synced_at: new Date(at(2)) });
  });

  it('writes nothing for an older state', async () => {
    await signUp('s-1', 'b@example.com', ['alice'], at(2));
    const before = await row('s-1');
    expect(await signUp('s-1', 'a@example.com', ['alice'], at(1))).toEqual({
      outcome: 'stale',
      handle_adjusted: false,
    });
    expect(await row('s-1')).toEqual(before);
  });

  it('moves synced_at on a newer state with the same values, so that an older state read in between loses', async () => {
    await signUp('s-1', 'a@example.com', ['alice'], at(1));
    expect((await signUp('s-1', 'a@example.com', ['alice'], at(3))).outcome).toBe('unchanged');
    expect((await signUp('s-1', 'b@example.com', ['alice'], at(2))).outcome).toBe('stale');
    expect(await row('s-1')).toMatchObject({ email: 'a@example.com', synced_at: new Date(at(3)) });
  });

  it('overrides a row written before synced_at existed', async () => {
    await admin.query(
      "INSERT INTO public.users (cognito_user_id, email, handle) VALUES ('s-old', 'old@example.com', 'old')",
    );
    expect((await signUp('s-old', 'new@example.com', ['old'], at(1))).outcome).toBe('updated');
    expect(await row('s-old')).toMatchObject({ email: 'new@example.com', synced_at: new Date(at(1)) });
  });

  it('refuses a tombstoned user and writes nothing', async () => {
    await erase('s-gone', 'delete');
    expect(await signUp('s-gone', 'a@example.com', ['alice'], at(1))).toEqual({
      outcome: 'erased',
      handle_adjusted: false,
    });
    expect(await row('s-gone')).toBeUndefined();
  });

  it('leaves an anonymized row anonymized', async () => {
    await signUp('s-anon', 'a@example.com', ['alice'], at(1));
    await erase('s-anon', 'anonymize');
    const before = await row('s-anon');
    expect((await signUp('s-anon', 'a@example.com', ['alice'], at(9))).outcome).toBe('erased');
    expect(await row('s-anon')).toEqual(before);
  });

  it('takes the next candidate when a handle is taken ignoring case, and no handle when every one is', async () => {
    await signUp('s-1', null, ['Sam'], at(1));
    expect(await signUp('s-2', null, ['sam', 'sam_2'], at(1))).toEqual({ outcome: 'inserted', handle_adjusted: true });
    expect(await signUp('s-3', null, ['SAM', 'Sam_2'], at(1))).toEqual({ outcome: 'inserted', handle_adjusted: true });
    expect((await row('s-2'))?.handle).toBe('sam_2');
    expect((await row('s-3'))?.handle).toBeNull();
  });

  it('stores no handle and no adjustment when the user asked for none', async () => {
    expect(await signUp('s-1', null, [null], at(1))).toEqual({ outcome: 'inserted', handle_adjusted: false });
    expect((await row('s-1'))?.handle).toBeNull();
  });

  it('lands 10 concurrent sign-ups for one handle with 10 distinct handles', async () => {
    const writers = await Promise.all(Array.from({ length: 10 }, () => connectAs('signup_writer')));
    // The subs share their first 8 hex digits, so the second candidate collides too, as the handle rule's can.
    const subs = writers.map((_, i) => `aaaaaaaa-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const results = await Promise.all(
      writers.map((writer, i) => {
        const sub = subs[i]!;
        return signUp(sub, null, ['sam', 'sam_aaaaaaaa', `sam_${sub.replaceAll('-', '')}`, null], at(1), writer);
      }),
    );
    expect(results.map((result) => result.outcome)).toEqual(Array(10).fill('inserted'));
    expect(results.filter((result) => result.handle_adjusted)).toHaveLength(9);
    const { rows } = await admin.query<{ handle: string }>('SELECT handle FROM public.users ORDER BY handle');
    const handles = rows.map((user) => user.handle);
    expect(new Set(handles.map((handle) => handle.toLowerCase())).size).toBe(10);
    expect(handles).toEqual(expect.arrayContaining(['sam', 'sam_aaaaaaaa']));
  });

  it('inserts once when the same sign-up arrives on 5 connections at once', async () => {
    const writers = await Promise.all(Array.from({ length: 5 }, () => connectAs('signup_writer')));
    const results = await Promise.all(
      writers.map((writer) => signUp('s-same', 'a@example.com', ['same'], at(1), writer)),
    );
    expect(results.map((result) => result.outcome).sort()).toEqual([
      'inserted',
      'unchanged',
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    const { rows } = await admin.query("SELECT 1 FROM public.users WHERE cognito_user_id = 's-same'");
    expect(rows).toHaveLength(1);
  });
});

describe('sync.apply_users', () => {
  beforeEach(reset);

  it('inserts an absent user with every field of its state', async () => {
    expect(await outcomes([state('u-1', 1, { handle_candidates: ['first', 'second'], enabled: false })])).toEqual({
      'u-1': 'inserted',
    });
    expect(await row('u-1')).toMatchObject({
      email: 'u-1@example.com',
      display_name: 'Name u-1',
      handle: 'first',
      enabled: false,
      synced_at: new Date(at(1)),
      pool_modified_at: new Date(at(1)),
    });
  });

  it.each([
    ['email', { email: 'new@example.com' }, { email: 'new@example.com' }],
    ['name', { name: 'New Name' }, { display_name: 'New Name' }],
    ['enabled', { enabled: false }, { enabled: false }],
    ['handle', { handle: 'newhandle' }, { handle: 'newhandle' }],
  ])('updates the %s from a newer state', async (_field, change, expected) => {
    await applyUsers([state('u-1', 1)]);
    expect(await outcomes([state('u-1', 2, change)])).toEqual({ 'u-1': 'updated' });
    expect(await row('u-1')).toMatchObject({
      ...expected,
      synced_at: new Date(at(2)),
      pool_modified_at: new Date(at(2)),
    });
  });

  it('disables and enables a user again', async () => {
    await applyUsers([state('u-1', 1)]);
    await applyUsers([state('u-1', 2, { enabled: false })]);
    expect((await row('u-1'))?.enabled).toBe(false);
    await applyUsers([state('u-1', 3, { enabled: true })]);
    expect((await row('u-1'))?.enabled).toBe(true);
  });

  it('never rolls a newer state back with an older one', async () => {
    await applyUsers([state('u-1', 5, { enabled: false, email: 'newer@example.com' })]);
    const before = await row('u-1');
    expect(await outcomes([state('u-1', 4, { enabled: true, email: 'older@example.com', handle: 'older' })])).toEqual({
      'u-1': 'stale',
    });
    expect(await row('u-1')).toEqual(before);
  });

  it('writes nothing for a duplicate delivery', async () => {
    await applyUsers([state('u-1', 1)]);
    const before = await row('u-1');
    expect(await outcomes([state('u-1', 1)])).toEqual({ 'u-1': 'unchanged' });
    expect(await row('u-1')).toEqual(before);
  });

  it('never resurrects a deleted user, nor refills an anonymized one', async () => {
    await applyUsers([state('u-del', 1), state('u-anon', 1)]);
    await erase('u-del', 'delete');
    await erase('u-anon', 'anonymize');
    const anonymized = await row('u-anon');
    expect(await outcomes([state('u-del', 9), state('u-anon', 9)])).toEqual({ 'u-del': 'erased', 'u-anon': 'erased' });
    expect(await row('u-del')).toBeUndefined();
    expect(await row('u-anon')).toEqual(anonymized);
  });

  it('moves the handle when it is free and keeps it when another user holds it ignoring case', async () => {
    await applyUsers([state('u-1', 1, { handle: 'one' }), state('u-2', 1, { handle: 'Two' })]);
    expect(await outcomes([state('u-1', 2, { handle: 'TWO' })])).toEqual({ 'u-1': 'updated_handle_conflict' });
    expect(await row('u-1')).toMatchObject({ handle: 'one', synced_at: new Date(at(2)) });
    expect(await outcomes([state('u-1', 3, { handle: 'uno' })])).toEqual({ 'u-1': 'updated' });
    expect((await row('u-1'))?.handle).toBe('uno');
    // A user may change the case of its own handle.
    expect(await outcomes([state('u-2', 3, { handle: 'two' })])).toEqual({ 'u-2': 'updated' });
    expect((await row('u-2'))?.handle).toBe('two');
  });

  it('keeps the handle when the pool names none', async () => {
    await applyUsers([state('u-1', 1, { handle: 'one' })]);
    await applyUsers([state('u-1', 2, { handle: null })]);
    expect((await row('u-1'))?.handle).toBe('one');
  });

  it('gives a free handle two users of one batch ask for to one of them', async () => {
    await applyUsers([state('u-1', 1, { handle: 'one' }), state('u-2', 1, { handle: 'two' })]);
    const result = await outcomes([state('u-1', 2, { handle: 'wanted' }), state('u-2', 2, { handle: 'wanted' })]);
    expect(Object.values(result).sort()).toEqual(['updated', 'updated_handle_conflict']);
    const { rows } = await admin.query("SELECT 1 FROM public.users WHERE handle = 'wanted'");
    expect(rows).toHaveLength(1);
  });

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

  it('refuses a user whose state does not parse, naming the SQLSTATE', async () => {
    const results = await applyUsers([state('u-1', 1, { enabled: 'maybe' }), state('u-2', 1)]);
    expect(results).toEqual([
      { cognito_user_id: 'u-1', outcome: 'refused', error_code: '22P02' },
      { cognito_user_id: 'u-2', outcome: 'inserted', error_code: null },
    ]);
  });

  it('refuses a state without read_at, which cannot be ordered', async () => {
    const results = await applyUsers([{ sub: 'u-1', enabled: true }]);
    expect(results).toEqual([{ cognito_user_id: 'u-1', outcome: 'refused', error_code: '22004' }]);
  });

  it('applies two states of one sub in one batch in their order', async () => {
    expect(
      await applyUsers([
        state('u-1', 1, { email: 'first@example.com' }),
        state('u-1', 2, { email: 'second@example.com' }),
      ]),
    ).toEqual([
      { cognito_user_id: 'u-1', outcome: 'inserted', error_code: null },
      { cognito_user_id: 'u-1', outcome: 'updated', error_code: null },
    ]);
    expect(
      await applyUsers([
        state('u-1', 4, { email: 'fourth@example.com' }),
        state('u-1', 3, { email: 'third@example.com' }),
      ]),
    ).toEqual([
      { cognito_user_id: 'u-1', outcome: 'updated', error_code: null },
      { cognito_user_id: 'u-1', outcome: 'stale', error_code: null },
    ]);
    expect((await row('u-1'))?.email).toBe('fourth@example.com');
  });

  it('writes nothing for a user seen only', async () => {
    expect(await outcomes([{ sub: 'u-unconfirmed', seen_only: true }])).toEqual({ 'u-unconfirmed': 'seen' });
    expect(await row('u-unconfirmed')).toBeUndefined();
  });

  it('refuses a batch larger than one ListUsers page', async () => {
    const users = Array.from({ length: 61 }, (_, i) => state(`u-${i}`, 1));
    expect(await failureOf(applyUsers(users))).toBe('54000');
  });

  it('refuses a run that is not open', async () => {
    expect(await failureOf(applyUsers([state('u-1', 1)], '999'))).toBe('55000');
    expect(await row('u-1')).toBeUndefined();
  });

  it('converges on the latest state whatever order and how often the states arrive', async () => {
    const states = [
      state('u-c', 1, { email: 'one@example.com', handle: 'c1' }),
      state('u-c', 2, { enabled: false }),
      state('u-c', 3, { name: 'Renamed', handle: 'c3' }),
      state('u-c', 4, { email: 'four@example.com', enabled: true }),
      state('u-c', 5, { email: 'five@example.com', handle: 'c5', enabled: false }),
    ];
    const latest = states[4]!;
    // A fixed linear congruential sequence: the same "random" deliveries on every run.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let round = 0; round < 5; round += 1) {
      await reset();
      const deliveries = [...states, ...Array.from({ length: 10 }, () => states[next() % states.length]!)];
      for (let i = deliveries.length - 1; i > 0; i -= 1) {
        const j = next() % (i + 1);
        [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
      }
      for (const delivery of deliveries) await applyUsers([delivery, state(`other-${next() % 3}`, next() % 5)]);
      expect(await row('u-c'), `round ${round}`).toMatchObject({
        email: latest.email,
        display_name: latest.name,
        handle: 'c5',
        enabled: false,
        synced_at: new Date(at(5)),
      });
    }
  });
});

describe('sync.erase_user', () => {
  beforeEach(reset);

  async function userWithActivity(sub: string): Promise<void> {
    await applyUsers([state(sub, 1)]);
    await admin.query(
      "INSERT INTO public.activities (user_uuid, message) SELECT uuid, 'hello' FROM public.users WHERE cognito_user_id = $1",
      [sub],
    );
  }

  async function activities(): Promise<number> {
    const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM public.activities');
    return rows[0]?.n ?? -1;
  }

  it('deletes the row with its activities and writes the tombstone under the delete policy', async () => {
    await userWithActivity('e-1');
    expect(await erase('e-1', 'delete')).toBe('erased');
    expect(await row('e-1')).toBeUndefined();
    expect(await activities()).toBe(0);
    expect(await tombstoned('e-1')).toBe(true);
  });

  it('keeps the row and its activities without personal data under the anonymize policy', async () => {
    await userWithActivity('e-1');
    expect(await erase('e-1', 'anonymize', as.user_reconciler)).toBe('erased');
    const anonymized = await row('e-1');
    expect(anonymized).toMatchObject({ email: null, display_name: null, handle: null, enabled: false });
    expect(anonymized?.deleted_at).toBeInstanceOf(Date);
    expect(await activities()).toBe(1);
    expect(await tombstoned('e-1')).toBe(true);
  });

  it.each(['delete', 'anonymize'])('changes nothing when the user is erased a second time (%s)', async (policy) => {
    await userWithActivity('e-1');
    await erase('e-1', policy);
    const before = await row('e-1');
    expect(await erase('e-1', policy)).toBe('already_erased');
    expect(await row('e-1')).toEqual(before);
  });

  it('writes the tombstone alone for a user the table never had, which keeps a late sign-up out', async () => {
    expect(await erase('e-never', 'delete')).toBe('absent_tombstoned');
    expect(await tombstoned('e-never')).toBe(true);
    expect((await signUp('e-never', 'late@example.com', ['late'], at(1))).outcome).toBe('erased');
    expect(await row('e-never')).toBeUndefined();
  });

  it('refuses a policy it does not know', async () => {
    expect(await failureOf(erase('e-1', 'forget'))).toBe('22023');
    expect(await tombstoned('e-1')).toBe(false);
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

  async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
    return Promise.race([
      work.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
    ]);
  }

  it('makes a sign-up wait for an erasure in progress, which it then obeys', async () => {
    const eraser = await connectAs('sync_writer');
    await eraser.query('BEGIN');
    try {
      expect(await erase('race-1', 'delete', eraser)).toBe('absent_tombstoned');
      const signing = signUp('race-1', 'a@example.com', ['race'], at(1), await connectAs('signup_writer'));
      expect(await settlesWithin(signing, 300)).toBe(false);
      await eraser.query('COMMIT');
      expect((await signing).outcome).toBe('erased');
    } finally {
      // A failed expectation must not leave a transaction that holds the next test's TRUNCATE.
      await eraser.query('ROLLBACK');
    }
    expect(await row('race-1')).toBeUndefined();
  });

  it('makes an erasure wait for a sign-up in progress, whose row it then erases', async () => {
    const signer = await connectAs('signup_writer');
    await signer.query('BEGIN');
    try {
      expect((await signUp('race-2', 'a@example.com', ['race'], at(1), signer)).outcome).toBe('inserted');
      const erasing = erase('race-2', 'delete', await connectAs('sync_writer'));
      expect(await settlesWithin(erasing, 300)).toBe(false);
      await signer.query('COMMIT');
      expect(await erasing).toBe('erased');
    } finally {
      await signer.query('ROLLBACK');
    }
    expect(await row('race-2')).toBeUndefined();
  });
});

describe('reconcile runs', () => {
  beforeEach(reset);

  it('begins a run, and a second begin resumes it', async () => {
    const first = await beginReconcile();
    expect(first).toMatchObject({ pagination_token: null, pages: 0, resumed: false });
    expect(await beginReconcile()).toMatchObject({ run_id: first.run_id, resumed: true });
  });

  it('resumes with the token saved with the last page and counts what the pages did', async () => {
    const run = await beginReconcile();
    await applyUsers([state('r-old', 1, { email: 'old@example.com' })]);
    expect(
      await applyPage(
        run.run_id,
        null,
        [state('r-new', 1), state('r-old', 2), { sub: 'r-unconfirmed', seen_only: true }],
        'token-2',
      ),
    ).toEqual({
      'r-new': 'inserted',
      'r-old': 'updated',
      'r-unconfirmed': 'seen',
    });
    expect(await beginReconcile()).toMatchObject({
      run_id: run.run_id,
      pagination_token: 'token-2',
      pages: 1,
      scanned: '3',
      resumed: true,
    });
    const { rows } = await admin.query(
      'SELECT inserted, updated, seen, stale, refused, completed_at FROM sync.reconcile_runs',
    );
    expect(rows).toEqual([{ inserted: '1', updated: '1', seen: '1', stale: '0', refused: '0', completed_at: null }]);
  });

  it('refuses a page read with a token the run has moved past, writing nothing', async () => {
    const run = await beginReconcile();
    await applyPage(run.run_id, null, [state('r-1', 1)], 'token-2');
    expect(await failureOf(applyPage(run.run_id, null, [state('r-2', 1)], 'token-2'))).toBe('55000');
    expect(await row('r-2')).toBeUndefined();
  });

  it('completes the run with the last page and takes no page after it', async () => {
    const run = await beginReconcile();
    await applyPage(run.run_id, null, [state('r-1', 1)], 'token-2');
    await applyPage(run.run_id, 'token-2', [state('r-2', 1)], null);
    const { rows } = await admin.query<{ completed_at: Date | null }>(
      'SELECT completed_at FROM sync.reconcile_runs WHERE id = $1',
      [run.run_id],
    );
    expect(rows[0]?.completed_at).toBeInstanceOf(Date);
    expect(await failureOf(applyPage(run.run_id, null, [state('r-3', 1)], null))).toBe('55000');
    expect(await beginReconcile()).toMatchObject({ resumed: false, pages: 0 });
  });

  it('rewinds an open run to its first page', async () => {
    const run = await beginReconcile();
    await applyPage(run.run_id, null, [], 'expired-token');
    await as.user_reconciler.query('SELECT sync.rewind_reconcile($1)', [run.run_id]);
    expect(await beginReconcile()).toMatchObject({ run_id: run.run_id, pagination_token: null, resumed: true });
  });

  it('names as prune candidates only rows the complete run did not see, created before it began, not anonymized', async () => {
    await applyUsers([
      state('p-seen', 1),
      state('p-gone', 1),
      state('p-unconfirmed', 1),
      state('p-stale', 5),
      state('p-refused', 1),
      state('p-anonymized', 1),
    ]);
    await erase('p-anonymized', 'anonymize');
    await admin.query("INSERT INTO public.users (cognito_user_id) VALUES ('p-before-sync')");
    const run = await beginReconcile();
    await applyUsers([state('p-during', 1)]);
    await applyPage(
      run.run_id,
      null,
      [
        state('p-seen', 2),
        { sub: 'p-unconfirmed', seen_only: true },
        state('p-stale', 2),
        state('p-refused', 2, { handle: OVERSIZED_HANDLE }),
      ],
      'token-2',
    );
    expect(await failureOf(pruneCandidates(run.run_id))).toBe('55000');
    await applyPage(run.run_id, 'token-2', [], null);
    expect(await pruneCandidates(run.run_id)).toEqual(['p-before-sync', 'p-gone']);
  });

  it('pages through the candidates after a sub, at most max at a time', async () => {
    await applyUsers(['c-1', 'c-2', 'c-3', 'c-4', 'c-5'].map((sub) => state(sub, 1)));
    const run = await completedRun();
    expect(await pruneCandidates(run, null, 2)).toEqual(['c-1', 'c-2']);
    expect(await pruneCandidates(run, 'c-2', 2)).toEqual(['c-3', 'c-4']);
    expect(await pruneCandidates(run, 'c-4', 2)).toEqual(['c-5']);
    await erase('c-1', 'delete', as.user_reconciler);
    await erase('c-2', 'anonymize', as.user_reconciler);
    expect(await pruneCandidates(run, null, 2)).toEqual(['c-3', 'c-4']);
  });

  it('refuses the candidates of a run a newer run has superseded', async () => {
    const older = await completedRun();
    await beginReconcile();
    expect(await failureOf(pruneCandidates(older))).toBe('55000');
  });

  it('records the prune on the complete run only', async () => {
    const open = await beginReconcile();
    expect(await failureOf(as.user_reconciler.query('SELECT sync.record_prune($1, 1)', [open.run_id]))).toBe('55000');
    await applyPage(open.run_id, null, [], null);
    await as.user_reconciler.query('SELECT sync.record_prune($1, 2)', [open.run_id]);
    const { rows } = await admin.query<{ pruned: string; pruned_at: Date | null }>(
      'SELECT pruned, pruned_at FROM sync.reconcile_runs',
    );
    expect(rows.map((run) => run.pruned)).toEqual(['2']);
    expect(rows[0]?.pruned_at).toBeInstanceOf(Date);
  });

  it('does not bring back a user erased after the page that listed it was read', async () => {
    await applyUsers([state('r-late', 1)]);
    const run = await beginReconcile();
    const listed = state('r-late', 2);
    await erase('r-late', 'delete');
    expect(await applyPage(run.run_id, null, [listed], null)).toEqual({ 'r-late': 'erased' });
    expect(await row('r-late')).toBeUndefined();
  });
});

describe('sync.handle_taken', () => {
  beforeAll(async () => {
    await reset();
    await applyUsers([state('h-1', 1, { handle: 'Taken' })]);
  });

  it.each([
    ['taken', true],
    ['TAKEN', true],
    ['free', false],
  ])('answers %s with %s, ignoring case', async (handle, expected) => {
    const { rows } = await as.handle_checker.query<{ taken: boolean }>('SELECT sync.handle_taken($1) AS taken', [
      handle,
    ]);
    expect(rows).toEqual([{ taken: expected }]);
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
