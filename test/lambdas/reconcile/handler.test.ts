// The reconcile end to end as it runs in AWS, split in two: the runner's handler (outside the VPC) reading a fake
// pool through the real ListUsers adapter (Cognito mocked), on a fake clock, and calling the store function's
// handler (inside the VPC) through the remote store, in process, with a JSON round trip each way; the store
// function logged in as user_reconciler to a real PostgreSQL.
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cognitoPoolReader } from '../../../lambdas/cognito/user-pool';
import {
  createHandler,
  InvalidReconcileInputError,
  TIME_MARGIN_MS,
  type ReconcileHandler,
} from '../../../lambdas/reconcile/handler';
import type { ErasurePolicy, ReconcileStore } from '../../../lambdas/reconcile/core';
import { postgresReconcileStore } from '../../../lambdas/reconcile/postgres-store';
import type { ReconcileSettings } from '../../../lambdas/reconcile/settings';
import { createLogger } from '../../../lambdas/runtime/logger';
import { startMigratedServer, setRolePasswords, type TestServer } from '../../support/postgres';
import { FakeClock, FakePool, sub } from './fake-pool';
import { inProcessStore, type InProcessStore } from './in-process-store';

// On RDS the role logs in with IAM tokens; this loopback-only test server gives it a throwaway password.
const RECONCILER_PASSWORD = 'reconcile-local-test';
const POOL_ID = 'us-east-1_TestPool1';

let server: TestServer;
let admin: Client;
let reconcilerUrl: string;
let clock: FakeClock;
let pool: FakePool;
let logLines: string[];
let metricLines: string[];
const stores: InProcessStore[] = [];

beforeAll(async () => {
  let url: string;
  ({ server, url } = await startMigratedServer());
  admin = new Client({ connectionString: url });
  await admin.connect();
  await setRolePasswords(admin, ['user_reconciler'], RECONCILER_PASSWORD);
  reconcilerUrl = `postgres://user_reconciler:${RECONCILER_PASSWORD}@127.0.0.1:${server.port}/postgres`;
});

afterAll(async () => {
  await admin?.end();
  await server?.destroy();
});

beforeEach(async () => {
  await admin.query(
    'TRUNCATE public.users, sync.erased_users, sync.reconcile_runs, sync.pool_binding RESTART IDENTITY CASCADE',
  );
  clock = new FakeClock();
  pool = new FakePool(clock, 3);
  logLines = [];
  metricLines = [];
});

afterEach(async () => {
  // Logged by sub only: no email, name or handle of anybody in any line.
  expect(logLines.join('\n')).not.toMatch(/@example\.com|Person \d|handle\d/);
  await Promise.all(stores.splice(0).map(({ storeHandler }) => storeHandler.close()));
});

const logger = () => createLogger({ service: 'reconcile' }, (line) => logLines.push(line));

function settings(options: { erasurePolicy?: ErasurePolicy; prune?: boolean; rate?: number; maxPrune?: number }) {
  return {
    userPoolId: POOL_ID,
    erasurePolicy: options.erasurePolicy ?? 'delete',
    listRate: options.rate ?? 5,
    prune: options.prune ?? true,
    ...(options.maxPrune !== undefined ? { maxPrune: options.maxPrune } : {}),
    storeFunction: 'reconcile-store',
    functionName: 'Cruddur-test-reconcile',
  } satisfies ReconcileSettings;
}

/** The store function's side, in process, as user_reconciler (or `url`); closed after each test. */
function storeSide(url = reconcilerUrl, wrap?: Parameters<typeof inProcessStore>[2]): InProcessStore {
  const side = inProcessStore(url, logger(), wrap);
  stores.push(side);
  return side;
}

function handlerFor(
  options: { erasurePolicy?: ErasurePolicy; prune?: boolean; rate?: number; maxPrune?: number } = {},
  side: InProcessStore = storeSide(),
): ReconcileHandler {
  return createHandler(settings(options), {
    pool: cognitoPoolReader(pool.cognito, { userPoolId: POOL_ID, listRate: options.rate ?? 5, clock }),
    store: side.store,
    clock,
    logger: logger(),
    metrics: (line) => metricLines.push(line),
  });
}

/** A context with `remainingMs` left, of which the handler keeps TIME_MARGIN_MS back. */
function context(remainingMs = 15 * 60_000) {
  return { awsRequestId: 'req-1', getRemainingTimeInMillis: () => remainingMs };
}

function person(n: number, fields: Record<string, unknown> = {}) {
  return { email: `person${n}@example.com`, name: `Person ${n}`, handle: `handle${n}`, ...fields };
}

interface Row {
  cognito_user_id: string;
  email: string | null;
  display_name: string | null;
  handle: string | null;
  enabled: boolean;
  deleted_at: Date | null;
}

async function rows(): Promise<Row[]> {
  const { rows } = await admin.query<Row>(
    'SELECT cognito_user_id, email, display_name, handle, enabled, deleted_at FROM public.users ORDER BY cognito_user_id',
  );
  return rows;
}

async function insertRow(n: number, fields: Partial<Row> = {}): Promise<void> {
  await admin.query(
    'INSERT INTO public.users (cognito_user_id, email, display_name, handle, enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
    [
      sub(n),
      fields.email ?? `old${n}@example.com`,
      fields.display_name ?? `Old ${n}`,
      fields.handle ?? `oldhandle${n}`,
      fields.enabled ?? true,
      new Date('2026-11-01T00:00:00Z'),
    ],
  );
}

const expectedRow = (n: number, fields: Partial<Row> = {}): Row => ({
  cognito_user_id: sub(n),
  email: `person${n}@example.com`,
  display_name: `Person ${n}`,
  handle: `handle${n}`,
  enabled: true,
  deleted_at: null,
  ...fields,
});

describe('reconcile function', () => {
  it('inserts missing users, refreshes changed ones and counts each outcome', async () => {
    for (const n of [1, 2, 3, 4]) pool.add(sub(n), person(n));
    pool.add(sub(5), { ...person(5), status: 'UNCONFIRMED' });
    await insertRow(2);
    await insertRow(3, { email: 'person3@example.com', display_name: 'Person 3', handle: 'handle3' });
    const report = await handlerFor()({ mode: 'start' }, context());
    expect(report).toMatchObject({
      status: 'complete',
      runId: '1',
      resumed: false,
      pages: 2,
      scanned: 5,
      inserted: 2,
      updated: 1,
      // Row 3 already held these values: only its order key and the run's mark are written.
      unchanged: 1,
      seen: 1,
      skipped: { 'not confirmed (UNCONFIRMED)': 1 },
      refused: {},
      prune: { available: true, candidates: 0, erased: 0, complete: true },
    });
    expect(await rows()).toEqual([1, 2, 3, 4].map((n) => expectedRow(n)));
  });

  it('sets enabled false for a disabled user and true again once enabled', async () => {
    pool.add(sub(1), person(1));
    const handler = handlerFor();
    await handler({ mode: 'start' }, context());
    pool.change(sub(1), { enabled: false });
    clock.advance(60_000);
    expect(await handler({ mode: 'start' }, context())).toMatchObject({ updated: 1 });
    expect(await rows()).toEqual([expectedRow(1, { enabled: false })]);
    pool.change(sub(1), { enabled: true });
    clock.advance(60_000);
    await handler({ mode: 'start' }, context());
    expect(await rows()).toEqual([expectedRow(1)]);
  });

  it('erases a user deleted from the pool whose event was lost, with its activities, under the delete policy', async () => {
    for (const n of [1, 2]) pool.add(sub(n), person(n));
    await insertRow(3);
    await admin.query(
      "INSERT INTO public.activities (user_uuid, message) SELECT uuid, 'hello' FROM public.users WHERE cognito_user_id = $1",
      [sub(3)],
    );
    const report = await handlerFor()({ mode: 'start' }, context());
    expect(report.prune).toEqual({
      available: true,
      candidates: 1,
      erased: 1,
      keptInPool: 0,
      alreadyErased: 0,
      complete: true,
      subs: [],
    });
    expect(pool.getRequests).toEqual([sub(3)]);
    expect((await rows()).map((row) => row.cognito_user_id)).toEqual([sub(1), sub(2)]);
    expect((await admin.query('SELECT count(*)::int AS n FROM public.activities')).rows).toEqual([{ n: 0 }]);
    expect((await admin.query('SELECT cognito_user_id FROM sync.erased_users')).rows).toEqual([
      { cognito_user_id: sub(3) },
    ]);
    expect(
      (await admin.query('SELECT pruned::int, pruned_at IS NOT NULL AS recorded FROM sync.reconcile_runs')).rows,
    ).toEqual([{ pruned: 1, recorded: true }]);
  });

  it('keeps the row without personal data under the anonymize policy', async () => {
    pool.add(sub(1), person(1));
    await insertRow(3);
    await handlerFor({ erasurePolicy: 'anonymize' })({ mode: 'start' }, context());
    const [kept, erased] = await rows();
    expect(kept).toEqual(expectedRow(1));
    // The kept row carries a fresh opaque id instead of the sub.
    expect(erased).toMatchObject({
      cognito_user_id: expect.stringMatching(/^erased-/) as unknown,
      email: null,
      display_name: null,
      handle: null,
      enabled: false,
    });
    expect(erased?.deleted_at).toBeInstanceOf(Date);
  });

  it('lists the subs of rows the pool no longer has and erases nothing without prune', async () => {
    pool.add(sub(1), person(1));
    await insertRow(3);
    await insertRow(4);
    const report = await handlerFor({ prune: false })({ mode: 'start' }, context());
    expect(report.prune).toEqual({
      available: true,
      candidates: 2,
      erased: 0,
      keptInPool: 0,
      alreadyErased: 0,
      complete: true,
      subs: [sub(3), sub(4)],
    });
    expect(pool.getRequests).toEqual([]);
    expect(await rows()).toHaveLength(3);
    // The invocation's own input overrides the function's default.
    clock.advance(60_000);
    const pruned = await handlerFor({ prune: false })({ mode: 'start', prune: true }, context());
    expect(pruned.prune).toMatchObject({ candidates: 2, erased: 2 });
  });

  it('erases nothing the pool still has: a candidate AdminGetUser finds is refreshed instead', async () => {
    pool.add(sub(1), person(1));
    pool.add(sub(2), person(2, { name: 'Person 2 renamed' }));
    pool.unlisted.add(sub(2));
    await insertRow(2);
    const report = await handlerFor()({ mode: 'start' }, context());
    expect(report.prune).toMatchObject({ candidates: 1, erased: 0, keptInPool: 1 });
    expect(await rows()).toEqual([expectedRow(1), expectedRow(2, { display_name: 'Person 2 renamed' })]);
    expect((await admin.query('SELECT count(*)::int AS n FROM sync.erased_users')).rows).toEqual([{ n: 0 }]);
  });

  it('stops at the time budget and resumes from the saved token, never reading the first page again', async () => {
    for (let n = 1; n <= 8; n += 1) pool.add(sub(n), person(n));
    await insertRow(20);
    const handler = handlerFor();
    // Pages go out 200 ms apart at 5 requests/s: a budget of 100 ms past the margin lets two pages start.
    const first = await handler({ mode: 'start' }, context(TIME_MARGIN_MS + 100));
    expect(first).toMatchObject({ status: 'incomplete', runId: '1', pages: 2, scanned: 6, runPages: 2, prune: null });
    expect(await rows()).toHaveLength(7);
    // A row created while the run is under way, whose user the pool does not list: not the run's to erase.
    await admin.query('INSERT INTO public.users (cognito_user_id, email) VALUES ($1, $2)', [
      sub(30),
      'new@example.com',
    ]);
    const second = await handler({ mode: 'continue' }, context());
    expect(second).toMatchObject({
      status: 'complete',
      runId: '1',
      resumed: true,
      pages: 1,
      scanned: 2,
      runPages: 3,
      runScanned: 8,
    });
    expect(pool.listTokens).toEqual([undefined, `after:${sub(3)}`, `after:${sub(6)}`]);
    expect(second.prune).toMatchObject({ candidates: 1, erased: 1 });
    expect((await rows()).map((row) => row.cognito_user_id)).toEqual([...[1, 2, 3, 4, 5, 6, 7, 8].map(sub), sub(30)]);
  });

  it('writes a page longer than 60 users, as cognito-local sends the whole pool, in slices, and prunes after it', async () => {
    pool.ignoresLimit = true;
    for (let n = 1; n <= 130; n += 1) pool.add(sub(n), person(n));
    await insertRow(500);
    const dry = await handlerFor()({ mode: 'start', dryRun: true }, context());
    expect(dry).toMatchObject({ status: 'complete', pages: 1, scanned: 130, inserted: 130 });
    const report = await handlerFor()({ mode: 'start' }, context());
    expect(report).toMatchObject({
      status: 'complete',
      pages: 1,
      scanned: 130,
      inserted: 130,
      prune: { candidates: 1, erased: 1 },
    });
    expect(await rows()).toHaveLength(130);
  });

  it('does nothing on continue when no run is open, and starts none', async () => {
    pool.add(sub(1), person(1));
    const report = await handlerFor()({ mode: 'continue' }, context());
    expect(report).toMatchObject({ status: 'no_open_run', runId: null, pages: 0 });
    expect(pool.listTokens).toEqual([]);
    expect((await admin.query('SELECT count(*)::int AS n FROM sync.reconcile_runs')).rows).toEqual([{ n: 0 }]);
  });

  it('rewinds the run when the pool refuses the saved token, and says so', async () => {
    for (let n = 1; n <= 8; n += 1) pool.add(sub(n), person(n));
    await insertRow(9);
    const handler = handlerFor();
    await handler({ mode: 'start' }, context(TIME_MARGIN_MS + 100));
    pool.refuseNextTokens = 1;
    const resumed = await handler({ mode: 'continue' }, context());
    expect(resumed).toMatchObject({ status: 'complete', rewound: 1, runId: '1', pages: 3, runPages: 5 });
    expect(pool.listTokens.slice(2)).toEqual([`after:${sub(6)}`, undefined, `after:${sub(3)}`, `after:${sub(6)}`]);
    expect(resumed.prune).toMatchObject({ candidates: 1, erased: 1 });
    expect(logLines.some((line) => line.includes('"outcome":"rewound"'))).toBe(true);
  });

  it('counts a user the database refuses by SQLSTATE, logs it by sub, and writes everyone else', async () => {
    // Stands in for any value a constraint refuses (the handle CHECK of the least-privilege migration, say).
    await admin.query(
      "ALTER TABLE public.users ADD CONSTRAINT test_refuse CHECK (email IS DISTINCT FROM 'person2@example.com')",
    );
    try {
      for (const n of [1, 2, 3, 4]) pool.add(sub(n), person(n));
      const report = await handlerFor()({ mode: 'start' }, context());
      expect(report).toMatchObject({ status: 'complete', inserted: 3, refused: { '23514': 1 } });
      expect((await rows()).map((row) => row.cognito_user_id)).toEqual([sub(1), sub(3), sub(4)]);
      const refusedLine = logLines.find((line) => line.includes('"outcome":"refused"'));
      expect(refusedLine).toContain(sub(2));
      expect(refusedLine).toContain('23514');
    } finally {
      await admin.query('ALTER TABLE public.users DROP CONSTRAINT test_refuse');
    }
  });

  it('never writes back a user erased earlier, and counts it', async () => {
    pool.add(sub(1), person(1));
    await admin.query('INSERT INTO sync.erased_users (cognito_user_id) VALUES ($1)', [sub(1)]);
    const report = await handlerFor()({ mode: 'start' }, context());
    expect(report).toMatchObject({ erasedTombstoned: 1, inserted: 0 });
    expect(await rows()).toEqual([]);
  });

  it('writes nothing in a dry run and reports what it would write, without prune figures as this role', async () => {
    for (const n of [1, 2]) pool.add(sub(n), person(n));
    await insertRow(2);
    await insertRow(3);
    const before = await rows();
    const report = await handlerFor()({ mode: 'start', dryRun: true }, context());
    expect(report).toMatchObject({
      status: 'complete',
      dryRun: true,
      runId: null,
      inserted: 1,
      updated: 1,
      prune: { available: false },
    });
    expect(await rows()).toEqual(before);
    expect((await admin.query('SELECT count(*)::int AS n FROM sync.reconcile_runs')).rows).toEqual([{ n: 0 }]);
    expect(pool.getRequests).toEqual([]);
  });

  it('stops without writing when another invocation wrote the same page first', async () => {
    for (let n = 1; n <= 4; n += 1) pool.add(sub(n), person(n));
    const reconciler = new Client({ connectionString: reconcilerUrl });
    await reconciler.connect();
    try {
      const mine = storeSide().store;
      const other = postgresReconcileStore(admin);
      let raced = false;
      const racing: ReconcileStore = {
        ...mine,
        async applyPage(runId, pageToken, users, nextToken) {
          if (!raced) {
            raced = true;
            await other.applyPage(runId, pageToken, users, nextToken);
          }
          return mine.applyPage(runId, pageToken, users, nextToken);
        },
      };
      const handler = createHandler(settings({}), {
        pool: cognitoPoolReader(pool.cognito, { userPoolId: POOL_ID, clock }),
        clock,
        store: racing,
        logger: createLogger({}, (line) => logLines.push(line)),
        metrics: (line) => metricLines.push(line),
      });
      const report = await handler({ mode: 'start' }, context());
      expect(report).toMatchObject({ status: 'superseded', runId: '1', pages: 0, scanned: 0, inserted: 0 });
      expect(await rows()).toHaveLength(3);
      expect(pool.listTokens).toEqual([undefined]);
    } finally {
      await reconciler.end();
    }
  });

  it('refuses input that is not a reconcile request, naming the field', async () => {
    const handler = handlerFor();
    await expect(handler({ mode: 'everything' }, context())).rejects.toThrow(
      new InvalidReconcileInputError('mode', 'must be "start" or "continue"'),
    );
    await expect(handler({ mode: 'start', prune: 'yes' }, context())).rejects.toThrow(/prune must be true or false/);
    await expect(handler({ mode: 'start', extra: 1 }, context())).rejects.toThrow(/"extra" is not a field/);
    await expect(handler('start', context())).rejects.toThrow(/input must be a JSON object/);
    expect(pool.listTokens).toEqual([]);
  });

  it('reports a database failure by name and code, never by its message', async () => {
    pool.add(sub(1), person(1));
    const handler = handlerFor({}, storeSide(reconcilerUrl.replace(RECONCILER_PASSWORD, 'wrong-password')));
    await expect(handler({ mode: 'start' }, context())).rejects.toThrow(
      /^reconcile failed: DatabaseUnavailableError \(28P01\); see the log of request req-1$/,
    );
    // The store function logs the refused login where its alarm reads it: a permanent failure, by class.
    const failure = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.method);
    expect(failure).toMatchObject({ level: 'ERROR', method: 'bindPool', failureClass: 'permanent' });
    expect(pool.listTokens).toEqual([]);
  });

  it('sends each page to the store function as one call, so a page stays one SQL round trip', async () => {
    for (let n = 1; n <= 8; n += 1) pool.add(sub(n), person(n));
    const side = storeSide();
    const report = await handlerFor({}, side)({ mode: 'start' }, context());
    expect(report).toMatchObject({ status: 'complete', pages: 3, inserted: 8 });
    const pages = side.requests.filter(({ method }) => method === 'applyPage');
    expect(pages.map(({ args }) => (args as unknown[])[1])).toEqual([null, `after:${sub(3)}`, `after:${sub(6)}`]);
    expect(side.requests.filter(({ method }) => method === 'applyInRun')).toEqual([]);
  });

  it('resumes after the page a runner timed out on: that page was written, the next invocation reads the one after', async () => {
    for (let n = 1; n <= 8; n += 1) pool.add(sub(n), person(n));
    await insertRow(20);
    let applied = 0;
    // The store function writes the second page; the runner's 15 minutes end before its answer arrives.
    const side = storeSide(reconcilerUrl, (invoke) => async (request) => {
      const answer = await invoke(request);
      if (request.method === 'applyPage' && ++applied === 2) throw new Error('Task timed out after 900.00 seconds');
      return answer;
    });
    const handler = handlerFor({}, side);
    await expect(handler({ mode: 'start' }, context())).rejects.toThrow(/^reconcile failed: Error;/);
    expect(await rows()).toHaveLength(7);
    const resumed = await handler({ mode: 'continue' }, context());
    expect(resumed).toMatchObject({
      status: 'complete',
      resumed: true,
      pages: 1,
      scanned: 2,
      runPages: 3,
      runScanned: 8,
    });
    // Page 2 is not read again: the run's token moved with it, in the same statement.
    expect(pool.listTokens).toEqual([undefined, `after:${sub(3)}`, `after:${sub(6)}`]);
    expect(resumed.prune).toMatchObject({ candidates: 1, erased: 1 });
    expect(await rows()).toHaveLength(8);
  });

  it('stops before reading the pool when the database is bound to another pool, naming both ids', async () => {
    pool.add(sub(1), person(1));
    // The operator's step that binds a database to a pool (npm run db -- adopt-pool).
    await admin.query('SELECT sync.adopt_pool($1)', ['eu-west-1_OtherPool']);
    const error: unknown = await handlerFor()({ mode: 'start' }, context()).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'PoolMismatchError', boundPoolId: 'eu-west-1_OtherPool', userPoolId: POOL_ID });
    expect(String(error)).toContain('eu-west-1_OtherPool');
    expect(pool.listTokens).toEqual([]);
    expect(await rows()).toEqual([]);
  });

  it('emits Drift, PruneRefused and TombstonedInPool for a run, and nothing for a dry run', async () => {
    for (const n of [1, 2]) pool.add(sub(n), person(n));
    await insertRow(2);
    pool.add(sub(3), person(3));
    await admin.query('INSERT INTO sync.erased_users (cognito_user_id) VALUES ($1)', [sub(3)]);
    await handlerFor()({ mode: 'start', dryRun: true }, context());
    expect(metricLines).toEqual([]);
    await handlerFor()({ mode: 'start' }, context());
    expect(metricLines).toHaveLength(1);
    const line = JSON.parse(metricLines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'Cruddur',
            Dimensions: [['FunctionName']],
            Metrics: [
              { Name: 'Drift', Unit: 'Count' },
              { Name: 'PruneRefused', Unit: 'Count' },
              { Name: 'TombstonedInPool', Unit: 'Count' },
            ],
          },
        ],
      },
      FunctionName: 'Cruddur-test-reconcile',
      // Inserted 1, updated 1: what the event path should have written.
      Drift: 2,
      PruneRefused: 0,
      TombstonedInPool: 1,
    });
  });

  it('emits PruneRefused when the prune would erase more than RECONCILE_MAX_PRUNE, and erases nobody', async () => {
    pool.add(sub(1), person(1));
    for (const n of [3, 4]) await insertRow(n);
    const report = await handlerFor({ maxPrune: 1 })({ mode: 'start' }, context());
    expect(report.prune).toMatchObject({ erased: 0, refused: { candidates: 2, limit: 1, reason: 'over_limit' } });
    expect(JSON.parse(metricLines[0]!)).toMatchObject({ PruneRefused: 1 });
    expect(await rows()).toHaveLength(3);
  });
});
