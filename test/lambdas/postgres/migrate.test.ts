import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applyMigrations, MIGRATIONS_DIR, MigrationRefusedError } from '../../../lambdas/postgres/migrate';
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

  it('applies each migration once when several runs race', async () => {
    const runners = await Promise.all([connect(), connect(), connect(), connect()]);
    const results = await Promise.all(runners.map((client) => applyMigrations(client)));
    const appliedOnce = results.flat();
    expect(new Set(appliedOnce).size).toBe(appliedOnce.length);
    const { rows } = await runners[0].query<{ n: number }>(
      'SELECT name, count(*)::int AS n FROM migrations GROUP BY name',
    );
    expect(rows.every((row) => row.n === 1)).toBe(true);
  });

  it('refuses a migration file changed after it was applied, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cruddur-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
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
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rolls a failing migration back whole and applies nothing after it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cruddur-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
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
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the file and the SQLSTATE of a failed statement, never the server text that quotes a value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cruddur-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
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
      await rm(dir, { recursive: true, force: true });
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
