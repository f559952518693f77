// The reconcile store's calls of sync.bind_pool, sync.prune_summary and sync.restore_user, logged in as
// user_reconciler (the role the reconcile function uses) against a real migrated server.
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, SQLSTATE } from '../../../lambdas/postgres/error-codes';
import { bindPool, pruneSummary, restoreUser } from '../../../lambdas/reconcile/postgres-store';
import { setRolePasswords, startMigratedServer, type TestServer } from '../../support/postgres';

const TEST_PASSWORD = 'store-local-test';
let server: TestServer;
let admin: Client;
let reconciler: Client;

beforeAll(async () => {
  let url: string;
  ({ server, url } = await startMigratedServer());
  admin = new Client({ connectionString: url });
  await admin.connect();
  await setRolePasswords(admin, ['user_reconciler'], TEST_PASSWORD);
  reconciler = new Client({
    connectionString: `postgres://user_reconciler:${TEST_PASSWORD}@127.0.0.1:${server.port}/postgres`,
  });
  await reconciler.connect();
});

afterAll(async () => {
  await reconciler?.end();
  await admin?.end();
  await server?.destroy();
});

describe('the reconcile store as user_reconciler', () => {
  it('binds the pool, answers same for it, and refuses another with SQLSTATE.poolMismatch naming both', async () => {
    expect(await bindPool(reconciler, 'eu-west-1_Store1')).toBe('bound');
    expect(await bindPool(reconciler, 'eu-west-1_Store1')).toBe('same');
    const error = await bindPool(reconciler, 'eu-west-1_Store2').catch((e: unknown) => e);
    expect(errorCode(error)).toBe(SQLSTATE.poolMismatch);
    expect((error as Error).message).toBe('database is kept in step with eu-west-1_Store1; refusing eu-west-1_Store2');
  });

  it('reads the prune summary of a complete run', async () => {
    await admin.query("INSERT INTO public.users (cognito_user_id) VALUES ('ps-1'), ('ps-2'), ('ps-3')");
    const { rows } = await admin.query<{ run_id: string }>('SELECT run_id::text FROM sync.begin_reconcile()');
    const runId = rows[0]!.run_id;
    await admin.query("SELECT * FROM sync.apply_reconcile_page($1, NULL, '[]', NULL)", [runId]);
    expect(await pruneSummary(reconciler, runId)).toEqual({ candidates: 3, tableRows: 3 });
  });

  it('restores a tombstoned sub once, then finds none', async () => {
    await admin.query("SELECT sync.erase_user('rs-1', 'delete')");
    expect(await restoreUser(reconciler, 'rs-1')).toBe('restored');
    expect(await restoreUser(reconciler, 'rs-1')).toBe('not_erased');
  });
});
