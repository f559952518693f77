import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  applyMigrations,
  migrateDatabase,
  MigrationRefusedError,
  readFunctionFiles,
} from '../../../lambdas/postgres/migrate';
import { adminQuery, startTestServer, type TestServer } from '../../support/postgres';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');

let server: TestServer;
let dbName: string;
let counter = 0;
const clients: Client[] = [];

async function connect(): Promise<Client> {
  const client = new Client({ connectionString: server.url(dbName) });
  await client.connect();
  clients.push(client);
  return client;
}

/** A copy of sql/ (migrations and functions side by side, as in the bundle) to edit; removed by the caller. */
async function copySql(): Promise<{ root: string; migrations: string; functions: string }> {
  const root = await mkdtemp(join(tmpdir(), 'cruddur-sql-'));
  await cp(join(ROOT, 'sql'), join(root, 'sql'), { recursive: true });
  return { root, migrations: join(root, 'sql', 'migrations'), functions: join(root, 'sql', 'functions') };
}

async function tables(client: Client): Promise<string[]> {
  const { rows } = await client.query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((row: { table_name: string }) => row.table_name);
}

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.destroy();
});

beforeEach(async () => {
  counter += 1;
  dbName = `migrate_${counter}`;
  await adminQuery(server.url(), `CREATE DATABASE migrate_${counter}`);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end()));
});

describe('applyMigrations', () => {
  it('creates users, activities and the bookkeeping table', async () => {
    const client = await connect();
    const applied = await applyMigrations(client);
    expect(applied[0]).toBe('0001_create_users_and_activities.sql');
    expect(await tables(client)).toEqual(expect.arrayContaining(['activities', 'migrations', 'users']));
    const { rows } = await client.query(
      "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position",
    );
    expect(rows).toEqual([
      { column_name: 'uuid', data_type: 'uuid', is_nullable: 'NO' },
      { column_name: 'cognito_user_id', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'email', data_type: 'text', is_nullable: 'YES' },
      { column_name: 'display_name', data_type: 'text', is_nullable: 'YES' },
      { column_name: 'handle', data_type: 'text', is_nullable: 'YES' },
      { column_name: 'created_at', data_type: 'timestamp with time zone', is_nullable: 'NO' },
      // 0003: the lifecycle sync's state of each row.
      { column_name: 'enabled', data_type: 'boolean', is_nullable: 'NO' },
      { column_name: 'synced_at', data_type: 'timestamp with time zone', is_nullable: 'YES' },
      { column_name: 'pool_modified_at', data_type: 'timestamp with time zone', is_nullable: 'YES' },
      { column_name: 'deleted_at', data_type: 'timestamp with time zone', is_nullable: 'YES' },
      { column_name: 'reconcile_run', data_type: 'bigint', is_nullable: 'YES' },
      // 0006: the order key of the user's group list.
      { column_name: 'groups_synced_at', data_type: 'timestamp with time zone', is_nullable: 'YES' },
    ]);
  });

  it('is a no-op the second time', async () => {
    const client = await connect();
    const first = await applyMigrations(client);
    expect(first.length).toBeGreaterThan(0);
    expect(await applyMigrations(client)).toEqual([]);
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM migrations WHERE id > 0');
    expect(rows[0]?.n).toBe(first.length);
  });

  it('applies each migration and each function file once when several runs race', async () => {
    const runners = await Promise.all([connect(), connect(), connect(), connect()]);
    const results = await Promise.all(runners.map((client) => migrateDatabase(client)));
    const appliedOnce = results.flatMap((result) => result.migrations);
    expect(new Set(appliedOnce).size).toBe(appliedOnce.length);
    const functionsOnce = results.flatMap((result) => result.functions);
    expect(functionsOnce.sort()).toEqual(readFunctionFiles().map((file) => file.path));
    const { rows } = await runners[0].query<{ n: number }>(
      'SELECT name, count(*)::int AS n FROM migrations GROUP BY name',
    );
    expect(rows.every((row) => row.n === 1)).toBe(true);
  });

  it('refuses a migration file changed after it was applied, naming it', async () => {
    const sql = await copySql();
    const dir = sql.migrations;
    try {
      const client = await connect();
      await applyMigrations(client, dir);
      const file = join(dir, '0001_create_users_and_activities.sql');
      await writeFile(file, `${await readFile(file, 'utf8')}\n-- edited after the fact\n`);
      const error = await applyMigrations(client, dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationRefusedError);
      expect(error).toMatchObject({ reason: 'changed', file: '0001_create_users_and_activities.sql' });
      expect((error as Error).message).toMatch(
        /^Migration 0001_create_users_and_activities\.sql refused: its contents changed/,
      );
    } finally {
      await rm(sql.root, { recursive: true, force: true });
    }
  });

  it('rolls a failing migration back whole and applies nothing after it', async () => {
    const sql = await copySql();
    const dir = sql.migrations;
    try {
      const next = (await applyMigrations(await connect(), dir)).length + 1;
      const prefix = String(next).padStart(4, '0');
      await writeFile(
        join(dir, `${prefix}_broken.sql`),
        'CREATE TABLE public.half_done (id int);\nSELECT no_such_function();\n',
      );
      const client = await connect();
      const error = await applyMigrations(client, dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationRefusedError);
      expect(error).toMatchObject({ reason: 'failed', file: `${prefix}_broken.sql`, code: '42883' });
      expect(await tables(client)).not.toContain('half_done');
    } finally {
      await rm(sql.root, { recursive: true, force: true });
    }
  });

  it('names the file and the SQLSTATE of a failed statement, never the server text that quotes a value', async () => {
    const sql = await copySql();
    const dir = sql.migrations;
    try {
      const next = (await applyMigrations(await connect(), dir)).length + 1;
      const prefix = String(next).padStart(4, '0');
      await writeFile(join(dir, `${prefix}_quotes_a_value.sql`), "SELECT 'jane.doe@example.com'::uuid;\n");
      const error = await applyMigrations(await connect(), dir).catch((e: unknown) => e);
      expect(error).toMatchObject({ reason: 'failed', file: `${prefix}_quotes_a_value.sql`, code: '22P02' });
      expect((error as Error).message).toBe(
        `Migration ${prefix}_quotes_a_value.sql refused: a statement in it failed; it was rolled back and no later file ran (SQLSTATE 22P02)`,
      );
      expect(JSON.stringify(error)).not.toContain('jane.doe');
    } finally {
      await rm(sql.root, { recursive: true, force: true });
    }
  });
});

describe('the activities table', () => {
  it('refuses an activity for a user that does not exist and takes a uuid reply_to', async () => {
    const client = await connect();
    await applyMigrations(client);
    await expect(
      client.query("INSERT INTO activities (user_uuid, message) VALUES ('00000000-0000-4000-8000-000000000000', 'x')"),
    ).rejects.toMatchObject({ code: '23503' });
    const { rows: user } = await client.query<{ uuid: string }>(
      "INSERT INTO users (cognito_user_id) VALUES ('s1') RETURNING uuid",
    );
    const userUuid = user[0]?.uuid;
    const { rows: parent } = await client.query<{ uuid: string }>(
      'INSERT INTO activities (user_uuid, message) VALUES ($1, $2) RETURNING uuid',
      [userUuid, 'hi'],
    );
    const parentUuid = parent[0]?.uuid;
    await client.query('INSERT INTO activities (user_uuid, message, reply_to_activity_uuid) VALUES ($1, $2, $3)', [
      userUuid,
      'reply',
      parentUuid,
    ]);
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM activities WHERE reply_to_activity_uuid = $1',
      [parentUuid],
    );
    expect(rows[0]?.n).toBe(1);
  });
});

describe('sql/seed.sql', () => {
  it('adds the mock users and activity once, and nothing on a second run', async () => {
    const client = await connect();
    await applyMigrations(client);
    const seed = await readFile(join(ROOT, 'sql', 'seed.sql'), 'utf8');
    await client.query(seed);
    await client.query(seed);
    const { rows: users } = await client.query('SELECT handle FROM users ORDER BY handle');
    expect(users.map((row: { handle: string }) => row.handle)).toEqual(['andrewbrown', 'bayko']);
    const { rows: activities } = await client.query('SELECT message FROM activities');
    expect(activities).toEqual([{ message: 'This was imported as seed data!' }]);
  });
});

describe('npm run db -- migrate', () => {
  it('applies the migrations to CONNECTION_URL and reports up to date the second time', async () => {
    const env = { ...process.env, CONNECTION_URL: server.url(dbName) };
    const first = await run('npx', ['tsx', 'bin/db.ts', 'migrate'], { cwd: ROOT, env });
    expect(first.stdout).toContain('migrate: applied 0001_create_users_and_activities.sql');
    expect(first.stdout).toContain(
      'migrate: applied function files deploy/set_connection_limits.sql, export/user_data.sql, sync/',
    );
    const second = await run('npx', ['tsx', 'bin/db.ts', 'migrate'], { cwd: ROOT, env });
    expect(second.stdout).toContain('migrate: already up to date');
    expect(await tables(await connect())).toContain('users');
  });

  it('names the missing variable and exits non-zero', async () => {
    const env = { ...process.env };
    delete env.CONNECTION_URL;
    const error = await run('npx', ['tsx', 'bin/db.ts', 'migrate'], { cwd: ROOT, env }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 78 }); // EX_CONFIG
    expect((error as { stderr: string }).stderr).toContain('CONNECTION_URL is not set');
  });
});

/**
 * What a migration leaves in the catalogs, read from them: functions (signature, body, owner, ACL, SECURITY
 * DEFINER, settings), tables and columns with their privileges, constraints, indexes, triggers, schemas' and
 * roles' grants. `stripComments` compares function bodies without their `--` comments.
 */
async function schemaOf(client: Client, { stripComments = false } = {}): Promise<Record<string, unknown[]>> {
  const schemas = ['public', 'sync', 'deploy'];
  const query = async (text: string): Promise<unknown[]> => (await client.query<object>(text, [schemas])).rows;
  const functions = await query(
    `SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) AS args,
            pg_get_function_result(p.oid) AS result, p.prosrc, pg_get_userbyid(p.proowner) AS owner,
            p.proacl::text AS acl, p.prosecdef, p.proconfig, p.provolatile
       FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
      WHERE n.nspname = ANY ($1) ORDER BY 1, 2, 3`,
  );
  return {
    functions: stripComments
      ? (functions as { prosrc: string }[]).map((fn) => ({ ...fn, prosrc: fn.prosrc.replace(/--[^\n]*/g, '') }))
      : functions,
    columns: await query(
      `SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default
         FROM information_schema.columns WHERE table_schema = ANY ($1) ORDER BY 1, 2, ordinal_position`,
    ),
    relations: await query(
      `SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner, c.relacl::text AS acl,
              (SELECT array_agg(a.attname || ':' || a.attacl::text ORDER BY a.attnum) FROM pg_attribute AS a
                WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL) AS column_acls
         FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY ($1) ORDER BY 1, 2`,
    ),
    constraints: await query(
      `SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE connamespace::regnamespace::text = ANY ($1) ORDER BY 1, 2`,
    ),
    indexes: await query(`SELECT indexdef FROM pg_indexes WHERE schemaname = ANY ($1) ORDER BY 1`),
    triggers: await query(
      `SELECT t.tgname, pg_get_triggerdef(t.oid) AS def FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) AND NOT t.tgisinternal ORDER BY 1`,
    ),
    types: await query(
      `SELECT t.typname, pg_get_userbyid(t.typowner) AS owner FROM pg_type AS t
         JOIN pg_namespace AS n ON n.oid = t.typnamespace WHERE n.nspname = ANY ($1) AND t.typtype = 'c'
          AND NOT EXISTS (SELECT 1 FROM pg_class AS c WHERE c.oid = t.typrelid AND c.relkind <> 'c') ORDER BY 1`,
    ),
    schemas: await query(
      `SELECT nspname, pg_get_userbyid(nspowner) AS owner, nspacl::text AS acl FROM pg_namespace
        WHERE nspname = ANY ($1) ORDER BY 1`,
    ),
    roles: await query(
      `SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolconfig,
              ARRAY(SELECT g.rolname::text FROM pg_auth_members AS m JOIN pg_roles AS g ON g.oid = m.roleid
                     WHERE m.member = r.oid ORDER BY 1) AS member_of,
              (SELECT datacl::text FROM pg_database WHERE datname = current_database()) AS database_acl
         FROM pg_roles AS r
        WHERE r.rolname IN ('signup_writer', 'sync_writer', 'user_reconciler', 'handle_checker', 'users_sync_owner')
          AND $1::text[] IS NOT NULL ORDER BY 1`,
    ),
  };
}

describe('function files', () => {
  it('end a database migrated from empty and one migrated by the numbered migrations alone in the same schema', async () => {
    const fresh = await connect();
    const fromEmpty = await migrateDatabase(fresh);
    expect(fromEmpty.functions).toEqual(readFunctionFiles().map((file) => file.path));
    const emptyThenNow = await schemaOf(fresh);

    counter += 1;
    dbName = `migrate_${counter}`;
    await adminQuery(server.url(), `CREATE DATABASE migrate_${counter}`);
    const deployed = await connect();
    // A database as the numbered migrations alone leave it: 0001-0004, functions as 0003 and 0004 define them.
    expect((await migrateDatabase(deployed, { functionsDir: false })).functions).toEqual([]);
    const before = await schemaOf(deployed, { stripComments: true });
    const upgraded = await migrateDatabase(deployed);
    expect(upgraded).toEqual({ migrations: [], functions: fromEmpty.functions });
    expect(await schemaOf(deployed)).toEqual(emptyThenNow);

    // The files keep what the migrations made of each function they define again: the same signature, result,
    // owner, grants and settings (a body may change: that is what a file is for); the new objects are the
    // migrator's own bookkeeping table and the functions that only a file defines.
    const withoutBody = (rows: unknown[]) => rows.map((row) => ({ ...(row as object), prosrc: undefined }));
    const after = await schemaOf(deployed, { stripComments: true });
    const signature = (row: unknown) => {
      const { nspname, proname, args } = row as Record<string, unknown>;
      return JSON.stringify([nspname, proname, args]);
    };
    const migrated = new Set(before.functions!.map(signature));
    const bookkeeping = (rows: unknown[]) => rows.filter((row) => !JSON.stringify(row).includes('function_files'));
    const fromMigrations = {
      ...after,
      functions: withoutBody(after.functions!.filter((row) => migrated.has(signature(row)))),
    };
    before.functions = withoutBody(before.functions!);
    expect(fromMigrations.functions).toEqual(before.functions);
    expect(Object.fromEntries(Object.entries(fromMigrations).map(([key, rows]) => [key, bookkeeping(rows)]))).toEqual(
      before,
    );
  });

  it('carry their own owner and grants: a dropped function comes back exactly from its file', async () => {
    const client = await connect();
    await migrateDatabase(client);
    const migrated = await schemaOf(client);
    // Every function no trigger depends on, as a new function would be: absent, and absent from the bookkeeping.
    const { rows } = await client.query<{ fn: string; path: string }>(
      `SELECT p.oid::regprocedure::text AS fn, n.nspname || '/' || p.proname || '.sql' AS path
         FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('sync', 'deploy') AND p.prorettype <> 'trigger'::regtype`,
    );
    expect(rows.length).toBeGreaterThan(10);
    // DROP FUNCTION takes no parameters: a session-local function drops each signature on the server.
    await client.query(`CREATE FUNCTION pg_temp.drop_functions(fns text[]) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE f text; BEGIN FOREACH f IN ARRAY fns LOOP EXECUTE 'DROP FUNCTION ' || f::regprocedure::text; END LOOP; END $$`);
    await client.query('SELECT pg_temp.drop_functions($1)', [rows.map((row) => row.fn)]);
    await client.query(`DELETE FROM deploy.function_files WHERE path = ANY ($1)`, [rows.map((row) => row.path)]);
    const again = await migrateDatabase(client);
    expect(again.functions.sort()).toEqual(rows.map((row) => row.path).sort());
    expect(await schemaOf(client)).toEqual(migrated);
  });

  it('re-applies exactly the one file that changed, which the database then runs', async () => {
    const sql = await copySql();
    try {
      const client = await connect();
      await migrateDatabase(client, { migrationsDir: sql.migrations });
      const file = join(sql.functions, 'sync', 'handle_taken.sql');
      const text = await readFile(file, 'utf8');
      expect(text).toContain('SELECT EXISTS (SELECT 1 FROM public.users');
      // Answers false for every handle: a change whose effect a call shows.
      await writeFile(
        file,
        text.replace(
          'SELECT EXISTS (SELECT 1 FROM public.users',
          'SELECT false AND EXISTS (SELECT 1 FROM public.users',
        ),
      );
      await client.query("INSERT INTO public.users (cognito_user_id, handle) VALUES ('s1', 'taken')");
      expect((await client.query("SELECT sync.handle_taken('taken') AS taken")).rows).toEqual([{ taken: true }]);

      expect(await migrateDatabase(client, { migrationsDir: sql.migrations })).toEqual({
        migrations: [],
        functions: ['sync/handle_taken.sql'],
      });
      expect((await client.query("SELECT sync.handle_taken('taken') AS taken")).rows).toEqual([{ taken: false }]);
      const { rows } = await client.query<{ sha256: string }>(
        `SELECT sha256 FROM deploy.function_files WHERE path = 'sync/handle_taken.sql'`,
      );
      expect(rows).toEqual([
        { sha256: readFunctionFiles(sql.functions).find((f) => f.path === 'sync/handle_taken.sql')?.sha256 },
      ]);
      expect(await migrateDatabase(client, { migrationsDir: sql.migrations })).toEqual({
        migrations: [],
        functions: [],
      });
    } finally {
      await rm(sql.root, { recursive: true, force: true });
    }
  });

  it('refuses a failing file by name and SQLSTATE, rolls it back whole and applies no later file', async () => {
    const sql = await copySql();
    try {
      const client = await connect();
      await migrateDatabase(client, { migrationsDir: sql.migrations });
      const before = await schemaOf(client);
      const { rows: recorded } = await client.query(`SELECT path, sha256 FROM deploy.function_files ORDER BY path`);
      const broken = join(sql.functions, 'sync', 'handle_taken.sql');
      // The new body applies, then a grant fails: the body must not stay.
      await writeFile(
        broken,
        (await readFile(broken, 'utf8')).replace('SELECT EXISTS', 'SELECT false AND EXISTS') +
          'GRANT EXECUTE ON FUNCTION sync.handle_taken(text) TO jane_doe_example_com;\n',
      );
      const later = join(sql.functions, 'sync', 'record_prune.sql');
      await writeFile(later, `${await readFile(later, 'utf8')}-- changed too\n`);

      const error = await migrateDatabase(client, { migrationsDir: sql.migrations }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationRefusedError);
      expect(error).toMatchObject({ reason: 'failed', file: 'functions/sync/handle_taken.sql', code: '42704' });
      expect((error as Error).message).toBe(
        'Migration functions/sync/handle_taken.sql refused: a statement in it failed; it was rolled back and no later file ran (SQLSTATE 42704)',
      );
      expect(JSON.stringify(error)).not.toContain('jane_doe');
      expect(await schemaOf(client)).toEqual(before);
      expect((await client.query(`SELECT path, sha256 FROM deploy.function_files ORDER BY path`)).rows).toEqual(
        recorded,
      );
    } finally {
      await rm(sql.root, { recursive: true, force: true });
    }
  });

  it('refuses a functions directory it cannot read, after the numbered migrations', async () => {
    const client = await connect();
    const error = await migrateDatabase(client, { functionsDir: join(tmpdir(), 'no-such-functions-dir') }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ reason: 'unreadable', file: 'no-such-functions-dir' });
  });
});
