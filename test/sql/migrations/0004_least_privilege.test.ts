// 0004 as each role sees it, logged in as that role against a real server: what it may do, what it is refused,
// the handle rule in the table, the session timeout and the connection limits the deployment sets.
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorCode } from '../../../lambdas/postgres/error-codes';
import { applyMigrations, migrateDatabase, MIGRATIONS_DIR } from '../../../lambdas/postgres/migrate';
import { adminQuery, startTestServer, setRolePasswords, type TestServer } from '../../support/postgres';

// On RDS the roles log in with IAM tokens; this loopback-only test server gives them a throwaway password.
const TEST_PASSWORD = 'least-privilege-local-test';
const ROLES = ['signup_writer', 'sync_writer', 'user_reconciler', 'handle_checker'] as const;
type Role = (typeof ROLES)[number];
const READ_AT = '2026-12-01T10:00:00.000Z';

let server: TestServer;
let admin: Client;
const clients: Client[] = [];

async function connectAs(role: Role, onError?: (error: Error) => void): Promise<Client> {
  const client = new Client({
    connectionString: `postgres://${role}:${TEST_PASSWORD}@127.0.0.1:${server.port}/postgres`,
  });
  client.on('error', onError ?? (() => undefined));
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

/** Applies the migrations before 0004 only, the old way (no function files): a deployed database when 0004 arrives. */
async function migrateBefore0004(client: Client): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'before-0004-'));
  try {
    for (const file of readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.sql') && name < '0004')) {
      copyFileSync(join(MIGRATIONS_DIR, file), join(dir, file));
    }
    await migrateDatabase(client, { migrationsDir: dir, functionsDir: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Handles stored before the rule: one that meets it, and ones that would not (0001 refused none of them).
const OLD_HANDLES: Record<string, string> = {
  'old-valid': 'Valid_Handle_9',
  'old-zero-width': 'zero\u200bwidth',
  'old-look-alike': 'j\u0430nedoe',
  'old-too-short': 'ab',
  'old-too-long': 'x'.repeat(200),
  'old-newline': 'handle\n',
};

beforeAll(async () => {
  server = await startTestServer();
  admin = new Client({ connectionString: server.url() });
  await admin.connect();
  await migrateBefore0004(admin);
  for (const [sub, handle] of Object.entries(OLD_HANDLES)) {
    await admin.query('INSERT INTO public.users (cognito_user_id, email, handle) VALUES ($1, $2, $3)', [
      sub,
      `${sub}@example.com`,
      handle,
    ]);
  }
  await applyMigrations(admin);
  await setRolePasswords(admin, ROLES, TEST_PASSWORD);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  await admin?.end();
  await server?.destroy();
});

describe('0004 on a database that holds handles from before the rule', () => {
  it('sets the handles outside the rule to NULL and keeps every user and every valid handle', async () => {
    const { rows } = await admin.query<{ cognito_user_id: string; email: string; handle: string | null }>(
      "SELECT cognito_user_id, email, handle FROM public.users WHERE cognito_user_id LIKE 'old-%' ORDER BY cognito_user_id",
    );
    expect(rows).toEqual(
      Object.keys(OLD_HANDLES)
        .sort()
        .map((sub) => ({
          cognito_user_id: sub,
          email: `${sub}@example.com`,
          handle: sub === 'old-valid' ? OLD_HANDLES[sub] : null,
        })),
    );
  });
});

describe('the handle CHECK', () => {
  beforeEach(async () => {
    await admin.query("DELETE FROM public.users WHERE cognito_user_id LIKE 'check-%'");
  });

  it.each([['abc'], ['A'.repeat(32)], ['under_score_09']])('admits %s', async (handle) => {
    expect(
      await failureOf(
        admin.query("INSERT INTO public.users (cognito_user_id, handle) VALUES ('check-1', $1)", [handle]),
      ),
    ).toBeUndefined();
  });

  it.each([
    ['2 characters', 'ab'],
    ['33 characters', 'a'.repeat(33)],
    ['a trailing newline', 'abc\n'],
    ['a zero-width space', 'ab\u200bc'],
    ['a fullwidth letter', 'ａbc'],
    ['an accented letter', 'héllo'],
    ['a hyphen', 'a-b-c'],
    ['2048 CJK characters', '山'.repeat(2048)],
  ])('refuses a handle with %s (23514), even from the owner', async (_what, handle) => {
    expect(
      await failureOf(
        admin.query("INSERT INTO public.users (cognito_user_id, handle) VALUES ('check-1', $1)", [handle]),
      ),
    ).toBe('23514');
  });

  it('refuses one user of an apply_users batch for a handle outside the rule and writes the others', async () => {
    const writer = await connectAs('sync_writer');
    const users = [
      { sub: 'check-ok', email: null, name: null, handle: 'fine_handle', enabled: true, read_at: READ_AT },
      { sub: 'check-bad', email: null, name: null, handle: 'not fine', enabled: true, read_at: READ_AT },
    ];
    const { rows } = await writer.query('SELECT * FROM sync.apply_users($1::jsonb)', [JSON.stringify(users)]);
    expect(rows).toEqual([
      { cognito_user_id: 'check-bad', outcome: 'refused', error_code: '23514' },
      { cognito_user_id: 'check-ok', outcome: 'inserted', error_code: null },
    ]);
  });
});

describe('signup_writer', () => {
  let writer: Client;

  beforeAll(async () => {
    writer = await connectAs('signup_writer');
  });

  it.each([
    ['reading an email', 'SELECT email FROM public.users'],
    ['reading a handle', 'SELECT handle FROM public.users LIMIT 1'],
    ['counting users', 'SELECT count(*) FROM public.users'],
    ['inserting a user', "INSERT INTO public.users (cognito_user_id) VALUES ('intruder')"],
    [
      'inserting with its own uuid',
      "INSERT INTO public.users (uuid, cognito_user_id) VALUES ('00000000-0000-4000-8000-000000000000', 'intruder')",
    ],
    [
      'inserting a row dated 1970',
      "INSERT INTO public.users (cognito_user_id, created_at) VALUES ('intruder', '1970-01-01')",
    ],
    ['updating an email', "UPDATE public.users SET email = 'x@example.com'"],
    ['deleting users', 'DELETE FROM public.users'],
    ['reading activities', 'SELECT message FROM public.activities'],
    ['creating a temporary table', 'CREATE TEMP TABLE intruder (id int)'],
    ['calling sync.apply_users', "SELECT * FROM sync.apply_users('[]'::jsonb)"],
    ['calling sync.erase_user', "SELECT sync.erase_user('old-valid', 'delete')"],
    ['calling sync.handle_taken', "SELECT sync.handle_taken('abc')"],
    ['calling sync.begin_reconcile', 'SELECT * FROM sync.begin_reconcile()'],
    ['setting connection limits', `SELECT * FROM deploy.set_connection_limits('{"signup_writer": 1000}')`],
  ])('is refused %s (42501)', async (_what, sql) => {
    expect(await failureOf(writer.query(sql))).toBe('42501');
  });

  it('holds no privilege on any table, column or sequence', async () => {
    const { rows } = await admin.query(
      `SELECT table_schema, table_name, column_name, privilege_type FROM information_schema.column_privileges WHERE grantee = 'signup_writer'
       UNION ALL
       SELECT table_schema, table_name, NULL, privilege_type FROM information_schema.table_privileges WHERE grantee = 'signup_writer'
       UNION ALL
       SELECT sequence_schema, sequence_name, NULL, 'USAGE' FROM information_schema.sequences WHERE has_sequence_privilege('signup_writer', sequence_schema || '.' || sequence_name, 'USAGE, SELECT, UPDATE')`,
    );
    expect(rows).toEqual([]);
  });

  it('signs a user up through sync.sign_up, and only through it', async () => {
    const { rows } = await writer.query('SELECT * FROM sync.sign_up($1, $2, $3, $4, $5)', [
      'signup-1',
      'new@example.com',
      'New',
      ['newhandle'],
      READ_AT,
    ]);
    expect(rows).toEqual([{ outcome: 'inserted', handle_adjusted: false }]);
    const stored = await admin.query(
      "SELECT email, display_name, handle FROM public.users WHERE cognito_user_id = 'signup-1'",
    );
    expect(stored.rows).toEqual([{ email: 'new@example.com', display_name: 'New', handle: 'newhandle' }]);
  });
});

describe('handle_checker', () => {
  let checker: Client;

  beforeAll(async () => {
    checker = await connectAs('handle_checker');
  });

  it('learns whether a handle is taken, ignoring case', async () => {
    const { rows } = await checker.query('SELECT sync.handle_taken($1) AS taken, sync.handle_taken($2) AS free', [
      'valid_handle_9',
      'nobody_has_it',
    ]);
    expect(rows).toEqual([{ taken: true, free: false }]);
  });

  it.each([
    ['reading a handle', 'SELECT handle FROM public.users'],
    ['reading an email', 'SELECT email FROM public.users'],
    ['inserting a user', "INSERT INTO public.users (cognito_user_id) VALUES ('intruder')"],
    ['creating a temporary table', 'CREATE TEMP TABLE intruder (id int)'],
    ['calling sync.sign_up', `SELECT * FROM sync.sign_up('intruder', NULL, NULL, '{}', '${READ_AT}')`],
    ['calling sync.apply_users', "SELECT * FROM sync.apply_users('[]'::jsonb)"],
    ['calling sync.erase_user', "SELECT sync.erase_user('old-valid', 'delete')"],
    ['calling sync.prune_candidates', 'SELECT * FROM sync.prune_candidates(1, NULL, 1)'],
    ['setting connection limits', `SELECT * FROM deploy.set_connection_limits('{"handle_checker": 1000}')`],
  ])('is refused %s (42501)', async (_what, sql) => {
    expect(await failureOf(checker.query(sql))).toBe('42501');
  });
});

describe('sessions', () => {
  it.each([
    ['signup_writer', '5min'],
    ['sync_writer', '5min'],
    ['user_reconciler', '5min'],
    ['handle_checker', '1min'],
  ] as const)('gives %s an idle_session_timeout of %s', async (role, timeout) => {
    const client = await connectAs(role);
    const { rows } = await client.query('SHOW idle_session_timeout');
    expect(rows).toEqual([{ idle_session_timeout: timeout }]);
  });

  it('ends an idle session of a function role when its timeout passes', async () => {
    // The same setting, shortened for this test only: the server, not the client, closes the session.
    await admin.query("ALTER ROLE user_reconciler SET idle_session_timeout = '300ms'");
    try {
      const errors: Error[] = [];
      const client = await connectAs('user_reconciler', (error) => errors.push(error));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await failureOf(client.query('SELECT 1'))).toBeDefined();
      expect(errors.map(errorCode)).toContain('57P05');
    } finally {
      await admin.query("ALTER ROLE user_reconciler SET idle_session_timeout = '5min'");
    }
  });

  it('lets no function role create temporary objects', async () => {
    const { rows } = await admin.query<{ rolname: string; temp: boolean }>(
      "SELECT rolname, has_database_privilege(rolname, current_database(), 'TEMPORARY') AS temp FROM pg_roles WHERE rolname = ANY ($1) ORDER BY rolname",
      [ROLES],
    );
    expect(rows).toEqual([...ROLES].sort().map((rolname) => ({ rolname, temp: false })));
  });
});

describe('deploy.set_connection_limits', () => {
  async function limits(): Promise<Record<string, number>> {
    const { rows } = await admin.query<{ rolname: string; rolconnlimit: number }>(
      'SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname = ANY ($1)',
      [ROLES],
    );
    return Object.fromEntries(rows.map((row) => [row.rolname, row.rolconnlimit]));
  }

  afterAll(async () => {
    await admin.query(
      `SELECT * FROM deploy.set_connection_limits('{"signup_writer": -1, "sync_writer": -1, "user_reconciler": -1, "handle_checker": -1}')`,
    );
  });

  it('sets the limit of each role it is given, leaves the others, and answers with all four', async () => {
    const { rows } = await admin.query('SELECT * FROM deploy.set_connection_limits($1::jsonb)', [
      JSON.stringify({ signup_writer: 20, sync_writer: 4 }),
    ]);
    expect(rows).toEqual([
      { role_name: 'handle_checker', connection_limit: -1 },
      { role_name: 'signup_writer', connection_limit: 20 },
      { role_name: 'sync_writer', connection_limit: 4 },
      { role_name: 'user_reconciler', connection_limit: -1 },
    ]);
  });

  it('refuses the connection one past the limit with 53300', async () => {
    await Promise.all(
      clients
        .filter((client) => (client as unknown as { user: string }).user === 'user_reconciler')
        .map((client) => client.end()),
    );
    await admin.query(`SELECT * FROM deploy.set_connection_limits('{"user_reconciler": 2}')`);
    await connectAs('user_reconciler');
    await connectAs('user_reconciler');
    expect(await failureOf(connectAs('user_reconciler'))).toBe('53300');
  });

  it.each([
    ['another role', { postgres: 5 }],
    ['the functions’ owner', { users_sync_owner: 5 }],
    ['a role name in another case', { SIGNUP_WRITER: 5 }],
    ['zero', { signup_writer: 0 }],
    ['a fraction', { signup_writer: 1.5 }],
    ['a negative limit other than -1', { signup_writer: -2 }],
    ['more than 10000', { signup_writer: 10001 }],
    ['a string', { signup_writer: '5' }],
    ['null', { signup_writer: null }],
    ['an array', [['signup_writer', 5]]],
    ['a number', 5],
  ])('refuses %s with 22023 and changes nothing, even for the valid roles beside it', async (_what, map) => {
    const before = await limits();
    const mixed = Array.isArray(map) || typeof map !== 'object' ? map : { sync_writer: 7, ...map };
    expect(
      await failureOf(admin.query('SELECT * FROM deploy.set_connection_limits($1::jsonb)', [JSON.stringify(mixed)])),
    ).toBe('22023');
    expect(await limits()).toEqual(before);
  });

  it('is the only function in its schema, and nobody but its owner may execute it', async () => {
    const { rows } = await admin.query(
      `SELECT p.proname, p.prosecdef AS definer, n.nspacl IS NOT NULL AS schema_acl_set,
              ARRAY(SELECT r.rolname::text FROM pg_roles AS r WHERE r.rolname = ANY ($1)
                      AND (has_function_privilege(r.rolname, p.oid, 'EXECUTE') OR has_schema_privilege(r.rolname, n.oid, 'USAGE'))) AS may
         FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace WHERE n.nspname = 'deploy'`,
      [[...ROLES, 'users_sync_owner']],
    );
    expect(rows).toEqual([{ proname: 'set_connection_limits', definer: false, schema_acl_set: true, may: [] }]);
  });
});

describe('0004 on RDS', () => {
  // RDS's master user is no superuser: it has CREATEROLE and, since PostgreSQL 16, ADMIN OPTION on the roles
  // it creates, which is what ALTER ROLE ... CONNECTION LIMIT needs. A server of its own, where it creates them.
  let rds: TestServer;
  const master = 'rds_master';
  const masterPassword = 'rds-master-local-test';
  let client: Client;

  beforeAll(async () => {
    rds = await startTestServer();
    // The statements name the constant `master` (rds_master) literally: DDL takes no parameters.
    await adminQuery(rds.url(), 'CREATE ROLE rds_master LOGIN CREATEROLE');
    await setRolePasswords(rds.url(), [master], masterPassword);
    await adminQuery(rds.url(), 'CREATE DATABASE app OWNER rds_master');
    client = new Client({ connectionString: `postgres://${master}:${masterPassword}@127.0.0.1:${rds.port}/app` });
    await client.connect();
    await applyMigrations(client);
  });

  afterAll(async () => {
    await client?.end();
    await rds?.destroy();
  });

  it('lets the master user set the connection limits', async () => {
    const { rows } = await client.query<{ role_name: string; connection_limit: number }>(
      `SELECT * FROM deploy.set_connection_limits('{"signup_writer": 30, "handle_checker": 10}')`,
    );
    expect(Object.fromEntries(rows.map((row) => [row.role_name, row.connection_limit]))).toEqual({
      signup_writer: 30,
      sync_writer: -1,
      user_reconciler: -1,
      handle_checker: 10,
    });
  });
});
