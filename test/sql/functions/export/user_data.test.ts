// export.user_data (sql/functions/export/user_data.sql) and the role that calls it, user_exporter: logged in as
// that role, the export works and nothing else does.
import { Client } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setRolePasswords } from '../../../support/postgres';
import { admin, applyUsers, as, at, erase, failureOf, reset, server, state, useDatabase } from '../../fixtures';

useDatabase();

// A throwaway password for this loopback-only test server; on RDS the role logs in with IAM tokens.
const PASSWORD = 'user-exporter-local-test';
let exporter: Client;

beforeAll(async () => {
  await setRolePasswords(server.url(), ['user_exporter'], PASSWORD);
  exporter = new Client({ connectionString: `postgres://user_exporter:${PASSWORD}@127.0.0.1:${server.port}/postgres` });
  await exporter.connect();
});

afterAll(async () => {
  await exporter?.end();
});

beforeEach(reset);

async function exported(sub: string): Promise<Record<string, unknown> | null> {
  const { rows } = await exporter.query<{ data: Record<string, unknown> | null }>(
    'SELECT export.user_data($1) AS data',
    [sub],
  );
  return rows[0]!.data;
}

async function withActivities(sub: string, ...messages: string[]): Promise<void> {
  for (const [i, message] of messages.entries()) {
    await admin.query(
      `INSERT INTO public.activities (user_uuid, message, created_at)
       SELECT uuid, $2, $3 FROM public.users WHERE cognito_user_id = $1`,
      [sub, message, at(10 + i)],
    );
  }
}

describe('export.user_data', () => {
  it("holds the person's row (every column), their groups and their activities, and nobody else's", async () => {
    await applyUsers([state('x-1', 1), state('x-2', 1)]);
    await as.sync_writer.query('SELECT sync.set_user_groups($1, $2, $3)', ['x-1', ['editors', 'admins'], at(2)]);
    await as.sync_writer.query('SELECT sync.set_user_groups($1, $2, $3)', ['x-2', ['moderators'], at(2)]);
    await withActivities('x-1', 'first post', 'second post');
    await withActivities('x-2', 'not theirs');

    const data = await exported('x-1');
    expect(Object.keys(data ?? {})).toEqual([
      'format',
      'sub',
      'exported_at',
      'user',
      'groups',
      'activities',
      'erasure',
    ]);
    expect(data).toMatchObject({ format: 'cruddur-user-data/1', sub: 'x-1', erasure: null });

    const { rows: columns } = await admin.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users'",
    );
    const user = data?.user as Record<string, unknown>;
    expect(Object.keys(user).sort()).toEqual(columns.map((c) => c.column_name).sort());
    expect(user).toMatchObject({
      cognito_user_id: 'x-1',
      email: 'x-1@example.com',
      display_name: 'Name x-1',
      handle: 'x_1',
      enabled: true,
    });
    expect((data?.groups as { group_name: string }[]).map((g) => g.group_name)).toEqual(['admins', 'editors']);
    const activities = data?.activities as { message: string; user_uuid: string }[];
    expect(activities.map((a) => a.message)).toEqual(['first post', 'second post']);
    expect(new Set(activities.map((a) => a.user_uuid))).toEqual(new Set([user.uuid]));
  });

  it('gives empty lists, not nulls, for a person with no groups and no activities', async () => {
    await applyUsers([state('x-1', 1)]);
    expect(await exported('x-1')).toMatchObject({ groups: [], activities: [] });
  });

  it('returns NULL for a sub the database knows nothing of', async () => {
    await applyUsers([state('x-1', 1)]);
    expect(await exported('x-unknown')).toBeNull();
  });

  it('holds only the tombstone for a person erased under either policy', async () => {
    await applyUsers([state('x-1', 1), state('x-2', 1)]);
    await withActivities('x-2', 'kept, anonymized');
    await erase('x-1', 'delete');
    await erase('x-2', 'anonymize');
    for (const sub of ['x-1', 'x-2']) {
      const data = await exported(sub);
      expect(data).toMatchObject({ sub, user: null, groups: [], activities: [] });
      expect(data?.erasure).toMatchObject({ cognito_user_id: sub });
      expect(JSON.stringify(data)).not.toMatch(/@example\.com|Name x-/);
    }
  });
});

describe('user_exporter', () => {
  it.each([
    'SELECT 1 FROM public.users',
    'SELECT 1 FROM public.activities',
    'SELECT 1 FROM public.user_groups',
    'SELECT 1 FROM sync.erased_users',
    'SELECT 1 FROM sync.reconcile_runs',
    'SELECT 1 FROM sync.deleted_groups',
  ])('is refused: %s', async (statement) => {
    expect(await failureOf(exporter.query(statement))).toBe('42501');
  });

  it('can execute no function of the project but export.user_data', async () => {
    const { rows } = await admin.query<{ fn: string; may: boolean }>(
      `SELECT p.oid::regprocedure::text AS fn, has_function_privilege('user_exporter', p.oid, 'EXECUTE') AS may
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('sync', 'deploy', 'export') ORDER BY 1`,
    );
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((r) => r.may).map((r) => r.fn)).toEqual(['export.user_data(text)']);
    expect(await failureOf(exporter.query("SELECT * FROM sync.apply_users('[]'::jsonb)"))).toBe('42501');
    expect(await failureOf(exporter.query("SELECT sync.erase_user('x-1', 'delete')"))).toBe('42501');
    expect(await failureOf(exporter.query("SELECT sync.set_user_groups('x-1', '{}', now())"))).toBe('42501');
  });

  it('is read-only by default, and without that still may write or create nothing', async () => {
    const { rows } = await exporter.query<{ ro: string; timeout: string }>(
      "SELECT current_setting('default_transaction_read_only') AS ro, current_setting('statement_timeout') AS timeout",
    );
    expect(rows[0]).toEqual({ ro: 'on', timeout: '10s' });
    const writes = [
      'CREATE TABLE public.t (x int)',
      'CREATE TEMPORARY TABLE t (x int)',
      "DELETE FROM public.users WHERE cognito_user_id = 'x-1'",
      "INSERT INTO public.user_groups (user_uuid, group_name, seen_at) VALUES (gen_random_uuid(), 'admins', now())",
    ];
    for (const statement of writes) expect(await failureOf(exporter.query(statement))).toBe('25006');
    // A session may turn the default off: privileges still refuse every write.
    await exporter.query('SET default_transaction_read_only = off');
    try {
      for (const statement of writes) expect(await failureOf(exporter.query(statement))).toBe('42501');
    } finally {
      await exporter.query('RESET default_transaction_read_only');
    }
  });

  it('is not a member of any role, and no other role may call the export', async () => {
    const { rows } = await admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = 'user_exporter'",
    );
    expect(rows[0]?.n).toBe(0);
    for (const role of ['signup_writer', 'sync_writer', 'user_reconciler', 'handle_checker'] as const) {
      expect(await failureOf(as[role].query("SELECT export.user_data('x-1')"))).toBe('42501');
    }
  });
});
