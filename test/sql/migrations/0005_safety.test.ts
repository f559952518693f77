// 0005_safety.sql on a database deployed before it: rows anonymized the old way lose their sub and the pool's
// timestamps, and the trigger that keeps anonymized rows so is on again afterwards.
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase, MIGRATIONS_DIR } from '../../../lambdas/postgres/migrate';
import { startTestServer, type TestServer } from '../../support/postgres';

let server: TestServer;
let admin: Client;

/** The migrations before 0005 only, the old way (no function files): a database deployed when 0005 arrives. */
async function migrateBefore0005(client: Client): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'before-0005-'));
  try {
    for (const file of readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.sql') && name < '0005')) {
      copyFileSync(join(MIGRATIONS_DIR, file), join(dir, file));
    }
    await migrateDatabase(client, { migrationsDir: dir, functionsDir: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const READ_AT = '2026-12-01T10:00:00.000Z';
const state = (sub: string) =>
  JSON.stringify([
    { sub, email: `${sub}@example.com`, name: 'N', handle: sub, enabled: true, modified_at: READ_AT, read_at: READ_AT },
  ]);

beforeAll(async () => {
  server = await startTestServer();
  admin = new Client({ connectionString: server.url() });
  await admin.connect();
  await migrateBefore0005(admin);
  await admin.query('SELECT * FROM sync.apply_users($1::jsonb)', [state('old_anon')]);
  await admin.query('SELECT * FROM sync.apply_users($1::jsonb)', [state('old_live')]);
  await admin.query("SELECT sync.erase_user('old_anon', 'anonymize')");
  await migrateDatabase(admin);
});

afterAll(async () => {
  await admin?.end();
  await server?.destroy();
});

describe('0005 on a database with rows anonymized before it', () => {
  it('replaces their sub with an opaque id, drops the pool’s timestamps and keeps only the day', async () => {
    const { rows } = await admin.query<Record<string, unknown>>(
      `SELECT cognito_user_id, email, handle, enabled, synced_at, pool_modified_at, reconcile_run,
              deleted_at = date_trunc('day', deleted_at, 'UTC') AS day_only
         FROM public.users WHERE deleted_at IS NOT NULL`,
    );
    expect(rows).toEqual([
      {
        cognito_user_id: expect.stringMatching(/^erased-[0-9a-f-]{36}$/) as unknown,
        email: null,
        handle: null,
        enabled: false,
        synced_at: null,
        pool_modified_at: null,
        reconcile_run: null,
        day_only: true,
      },
    ]);
  });

  it('leaves live users and the tombstone as they were', async () => {
    const live = await admin.query("SELECT email, synced_at FROM public.users WHERE cognito_user_id = 'old_live'");
    expect(live.rows).toEqual([{ email: 'old_live@example.com', synced_at: new Date(READ_AT) }]);
    const tombstones = await admin.query('SELECT cognito_user_id FROM sync.erased_users');
    expect(tombstones.rows).toEqual([{ cognito_user_id: 'old_anon' }]);
  });

  it('turns users_keep_erased on again', async () => {
    const { rows } = await admin.query("SELECT tgenabled FROM pg_trigger WHERE tgname = 'users_keep_erased'");
    expect(rows).toEqual([{ tgenabled: 'O' }]);
    const update = await admin.query("UPDATE public.users SET email = 'x@example.com' WHERE deleted_at IS NOT NULL");
    expect(update.rowCount).toBe(0);
  });
});
