import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, startMigratedServer, setRolePasswords, type TestServer } from '../../support/postgres';

const MIGRATION = readFileSync(
  join(__dirname, '..', '..', '..', 'sql', 'migrations', '0002_signup_writer_role.sql'),
  'utf8',
);
// On RDS the role logs in with IAM tokens; this loopback-only test server gives it a throwaway password.
const TEST_PASSWORD = 'signup-writer-local-test';

let server: TestServer;
let adminUrl: string;
let writer: Client;

function writerUrl(): string {
  return `postgres://signup_writer:${TEST_PASSWORD}@127.0.0.1:${server.port}/postgres`;
}

async function refused(sql: string, values: unknown[] = []): Promise<string | undefined> {
  try {
    await writer.query(sql, values);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

beforeAll(async () => {
  ({ server, url: adminUrl } = await startMigratedServer());
  // ALTER ROLE takes no parameters: the literal is quoted by pg.
  await setRolePasswords(adminUrl, ['signup_writer'], TEST_PASSWORD);
  await adminQuery(
    adminUrl,
    "INSERT INTO public.users (cognito_user_id, email, display_name, handle) VALUES ('seed-user', 'seed@example.com', 'Seed', 'seed')",
  );
  await adminQuery(
    adminUrl,
    "INSERT INTO public.activities (user_uuid, message) SELECT uuid, 'hello' FROM public.users WHERE cognito_user_id = 'seed-user'",
  );
  writer = new Client({ connectionString: writerUrl() });
  await writer.connect();
});

afterAll(async () => {
  await writer?.end();
  await server?.destroy();
});

// What 0002 refused still holds after the later migrations; what it granted (the direct upsert) 0004 took away
// again, and test/sql/migrations/0004_least_privilege.test.ts shows what signup_writer may do now.
describe('signup_writer', () => {
  it.each([
    ['creating a table', 'CREATE TABLE public.intruder (id int)'],
    ['reading activities', 'SELECT * FROM public.activities'],
    ['writing activities', "UPDATE public.activities SET message = 'x'"],
    ['deleting users', "DELETE FROM public.users WHERE cognito_user_id = 'seed-user'"],
    ['changing a handle', "UPDATE public.users SET handle = 'taken' WHERE cognito_user_id = 'seed-user'"],
    ['truncating users', 'TRUNCATE public.users CASCADE'],
    ['reading the migrations table', 'SELECT * FROM public.migrations'],
    ['dropping the users table', 'DROP TABLE public.users CASCADE'],
  ])('is refused %s', async (_what, sql) => {
    expect(await refused(sql)).toBe('42501');
  });

  it('is not a superuser and cannot create databases or roles', async () => {
    const { rows } = await writer.query<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
      'SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user',
    );
    expect(rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false }]);
  });
});

describe('0002_signup_writer_role.sql', () => {
  it('runs again without error and grants rds_iam when that role exists, as it does on RDS', async () => {
    await adminQuery(
      adminUrl,
      "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN CREATE ROLE rds_iam; END IF; END $$",
    );
    await adminQuery(adminUrl, MIGRATION);
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ member: boolean }>(
        "SELECT pg_has_role('signup_writer', 'rds_iam', 'MEMBER') AS member",
      );
      expect(rows).toEqual([{ member: true }]);
      const grants = await admin.query<{ privilege_type: string; column_name: string }>(
        "SELECT privilege_type, column_name FROM information_schema.column_privileges WHERE grantee = 'signup_writer' AND table_name = 'users' AND privilege_type = 'UPDATE' ORDER BY column_name",
      );
      expect(grants.rows.map((row) => row.column_name)).toEqual(['display_name', 'email']);
    } finally {
      await admin.end();
    }
  });
});
