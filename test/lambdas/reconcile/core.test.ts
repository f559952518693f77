// The reconcile core's brakes and signals, logged in as user_reconciler to a real PostgreSQL, reading a fake pool
// through the real ListUsers adapter (Cognito mocked) on a fake clock: a replaced or empty pool erases nobody, a
// prune over its limit erases nobody, a federated user is never taken for gone, a tombstoned user alive in the
// pool is reported, and what the run repaired is counted as drift.
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cognitoPoolReader } from '../../../lambdas/cognito/user-pool';
import {
  defaultPruneLimit,
  PoolMismatchError,
  reconcile,
  type ReconcileOptions,
  type ReconcileReport,
} from '../../../lambdas/reconcile/core';
import { operatorReconcileStore, postgresReconcileStore } from '../../../lambdas/reconcile/postgres-store';
import { createLogger } from '../../../lambdas/runtime/logger';
import { setRolePasswords, startMigratedServer, type TestServer } from '../../support/postgres';
import { FakeClock, FakePool, sub } from './fake-pool';

const PASSWORD = 'reconcile-core-test';
const POOL_A = 'us-east-1_PoolA1';
const POOL_B = 'us-east-1_PoolB2';

let server: TestServer;
let admin: Client;
let reconciler: Client;
let clock: FakeClock;
let pool: FakePool;
let logLines: string[];

beforeAll(async () => {
  let url: string;
  ({ server, url } = await startMigratedServer());
  admin = new Client({ connectionString: url });
  await admin.connect();
  await setRolePasswords(admin, ['user_reconciler'], PASSWORD);
  reconciler = new Client({
    connectionString: `postgres://user_reconciler:${PASSWORD}@127.0.0.1:${server.port}/postgres`,
  });
  await reconciler.connect();
});

afterAll(async () => {
  await reconciler?.end();
  await admin?.end();
  await server?.destroy();
});

beforeEach(async () => {
  await admin.query(
    'TRUNCATE public.users, sync.erased_users, sync.reconcile_runs, sync.pool_binding RESTART IDENTITY CASCADE',
  );
  clock = new FakeClock();
  pool = new FakePool(clock, 60);
  logLines = [];
});

afterEach(() => {
  expect(logLines.join('\n')).not.toMatch(/@example\.com|Person \d|handle\d/);
});

function person(n: number) {
  return { email: `person${n}@example.com`, name: `Person ${n}`, handle: `handle${n}` };
}

/** Rows of users of an earlier pool: created before any run starts. */
async function insertRows(from: number, to: number): Promise<void> {
  await admin.query(
    `INSERT INTO public.users (cognito_user_id, created_at)
     SELECT '00000000-0000-4000-8000-' || lpad(n::text, 12, '0'), '2026-11-01T00:00:00Z' FROM generate_series($1::int, $2::int) AS n`,
    [from, to],
  );
}

async function liveSubs(): Promise<string[]> {
  const { rows } = await admin.query<{ cognito_user_id: string }>(
    'SELECT cognito_user_id FROM public.users WHERE deleted_at IS NULL ORDER BY cognito_user_id',
  );
  return rows.map((row) => row.cognito_user_id);
}

// One fixed statement a table: no SQL is built from the name.
const COUNTS = {
  'sync.erased_users': 'SELECT count(*)::int AS n FROM sync.erased_users',
  'sync.reconcile_runs': 'SELECT count(*)::int AS n FROM sync.reconcile_runs',
  'sync.pool_binding': 'SELECT count(*)::int AS n FROM sync.pool_binding',
} as const;
const count = async (table: keyof typeof COUNTS) => (await admin.query<{ n: number }>(COUNTS[table])).rows[0]?.n;

function run(options: Partial<ReconcileOptions> = {}, store = postgresReconcileStore(reconciler)) {
  const userPoolId = options.userPoolId ?? POOL_A;
  return reconcile(
    { mode: 'start', prune: true, dryRun: false, erasurePolicy: 'delete', userPoolId, ...options },
    {
      pool: cognitoPoolReader(pool.cognito, { userPoolId, listRate: 30, clock }),
      store,
      clock,
      logger: createLogger({ service: 'reconcile' }, (line) => logLines.push(line)),
    },
  );
}

function logged(level: string, outcome: string): Record<string, unknown>[] {
  return logLines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.level === level && line.outcome === outcome);
}

describe('a replaced pool', () => {
  it("erases none of the old pool's rows: the prune is refused over its limit", async () => {
    // The new pool holds none of the table's subs: the run sees 3 users and misses all 20 rows.
    await insertRows(1, 20);
    for (const n of [101, 102, 103]) pool.add(sub(n), person(n));
    const report = await run();
    expect(report.status).toBe('complete');
    expect(report.prune).toMatchObject({
      available: true,
      candidates: 20,
      erased: 0,
      refused: { candidates: 20, limit: 10, reason: 'over_limit' },
    });
    expect(await liveSubs()).toHaveLength(23);
    expect(await count('sync.erased_users')).toBe(0);
    // Nobody was asked about: the brake holds before the first re-check.
    expect(pool.getRequests).toEqual([]);
    expect(logged('ERROR', 'prune_refused')).toEqual([
      expect.objectContaining({ candidates: 20, limit: 10, reason: 'over_limit' }) as unknown,
    ]);
  });

  it('stops before anything is read or written when the database is bound to another pool, naming both', async () => {
    pool.add(sub(1), person(1));
    await run({ userPoolId: POOL_A });
    pool.add(sub(2), person(2));
    const listed = pool.listTokens.length;
    const error = await run({ userPoolId: POOL_B }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PoolMismatchError);
    expect((error as Error).message).toBe(
      `the database is kept in step with user pool ${POOL_A}, not ${POOL_B}: nothing read or written; ` +
        `if ${POOL_B} replaces it, adopt it first (npm run db -- adopt-pool ${POOL_B})`,
    );
    expect((error as Error).message).not.toContain('\n');
    expect(pool.listTokens.length).toBe(listed);
    expect(await liveSubs()).toEqual([sub(1)]);
    expect(await count('sync.reconcile_runs')).toBe(1);
  });

  it('binds on the first run and runs again on the same pool', async () => {
    pool.add(sub(1), person(1));
    await run();
    await run();
    expect((await admin.query('SELECT user_pool_id FROM sync.pool_binding')).rows).toEqual([{ user_pool_id: POOL_A }]);
  });

  it('refuses a dry run against another pool too, and a first dry run binds nothing', async () => {
    pool.add(sub(1), person(1));
    await run({ dryRun: true }, operatorReconcileStore(admin));
    expect(await count('sync.pool_binding')).toBe(0);
    await run();
    await expect(run({ userPoolId: POOL_B, dryRun: true }, operatorReconcileStore(admin))).rejects.toBeInstanceOf(
      PoolMismatchError,
    );
  });
});

describe('the prune brake', () => {
  it('never prunes after a run that scanned nobody, however few the rows', async () => {
    await insertRows(1, 3);
    const report = await run();
    expect(report.scanned).toBe(0);
    expect(report.prune).toMatchObject({ erased: 0, refused: { candidates: 3, limit: 10, reason: 'empty_scan' } });
    expect(await liveSubs()).toHaveLength(3);
    expect(logged('ERROR', 'prune_refused')).toHaveLength(1);
  });

  it('erases up to the limit without a say-so', async () => {
    await insertRows(1, 10);
    pool.add(sub(100), person(100));
    const report = await run();
    expect(report.prune).toMatchObject({ candidates: 10, erased: 10 });
    expect(report.prune).not.toHaveProperty('refused');
    expect(await liveSubs()).toEqual([sub(100)]);
  });

  it('erases more than the default limit when maxPrune allows it for the run', async () => {
    await insertRows(1, 20);
    pool.add(sub(100), person(100));
    const report = await run({ maxPrune: 20 });
    expect(report.prune).toMatchObject({ candidates: 20, erased: 20 });
    expect(await liveSubs()).toEqual([sub(100)]);
  });

  it('takes 1% of the table as the limit once the table has more than 1000 rows', async () => {
    expect([0, 999, 1000, 1001, 1500, 123_456].map(defaultPruneLimit)).toEqual([10, 10, 10, 11, 15, 1235]);
    // 1600 rows, of which the pool lists all but 17: the limit is 16.
    await insertRows(1, 1600);
    for (let n = 18; n <= 1600; n += 1) pool.add(sub(n), {});
    pool.pageSize = 60;
    const report = await run();
    expect(report.prune).toMatchObject({ erased: 0, refused: { candidates: 17, limit: 16, reason: 'over_limit' } });
  });

  it('lists candidates without erasing anything when prune is off, with no refusal', async () => {
    await insertRows(1, 20);
    pool.add(sub(100), person(100));
    const report = await run({ prune: false });
    expect(report.prune).toMatchObject({ candidates: 20, erased: 0 });
    expect(report.prune).not.toHaveProperty('refused');
  });

  it('refuses in a dry run what the real run would refuse', async () => {
    await insertRows(1, 20);
    pool.add(sub(100), person(100));
    const report = await run({ dryRun: true }, operatorReconcileStore(admin));
    expect(report.prune).toMatchObject({ erased: 0, refused: { candidates: 20, limit: 10, reason: 'over_limit' } });
  });
});

describe('identity in the prune re-check', () => {
  it('keeps a federated user the listing missed: found by sub, though their user name is not the sub', async () => {
    pool.add(sub(1), person(1));
    pool.add(sub(2), { ...person(2), status: 'EXTERNAL_PROVIDER', userName: 'Google_109876543210987654321' });
    pool.unlisted.add(sub(2));
    await insertRows(2, 2);
    const report = await run();
    expect(report.prune).toMatchObject({ candidates: 1, erased: 0, keptInPool: 1 });
    expect(await liveSubs()).toEqual([sub(1), sub(2)]);
    expect(await count('sync.erased_users')).toBe(0);
  });
});

describe('tombstoned users alive in the pool', () => {
  it('counts each and logs it at WARN by sub, writing nothing back', async () => {
    for (const n of [1, 2, 3]) pool.add(sub(n), person(n));
    await admin.query("SELECT sync.erase_user($1, 'delete')", [sub(2)]);
    const report = await run();
    expect(report).toMatchObject({ tombstonedInPool: 1, erasedTombstoned: 1, inserted: 2 });
    expect(logged('WARN', 'tombstoned_in_pool')).toEqual([expect.objectContaining({ sub: sub(2) }) as unknown]);
    expect(await liveSubs()).toEqual([sub(1), sub(3)]);
  });
});

describe('drift', () => {
  it('adds up what the run repaired: inserted, updated and erased by the prune', async () => {
    for (const n of [1, 2, 3]) pool.add(sub(n), person(n));
    await insertRows(2, 2);
    await insertRows(9, 9);
    const report: ReconcileReport = await run();
    expect(report).toMatchObject({ inserted: 2, updated: 1, prune: { erased: 1 }, drift: 4 });
    clock.advance(60_000);
    expect(await run()).toMatchObject({ inserted: 0, updated: 0, unchanged: 3, drift: 0 });
  });
});
