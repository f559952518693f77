// The lifecycle sync's promise, as a property: whatever the pool went through (create, rename, new email,
// disable, enable, delete), and whatever became of the events (dropped, duplicated, reordered), after one
// reconcile with prune public.users holds exactly the pool: same users, same attributes, same enabled, and no
// erased user's personal data (a pool left empty is the brake's case: a run that saw nobody erases nobody). Events reach the table as the writer applies them: the state re-read from the
// pool at the event's time, through sync.apply_users / sync.erase_user, logged in as sync_writer.
import fc from 'fast-check';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cognitoPoolReader } from '../../../lambdas/cognito/user-pool';
import { stateOf, type ErasurePolicy, type ReconcileStore } from '../../../lambdas/reconcile/core';
import { createHandler } from '../../../lambdas/reconcile/handler';
import { postgresReconcileStore } from '../../../lambdas/reconcile/postgres-store';
import { createLogger } from '../../../lambdas/runtime/logger';
import { startMigratedServer, setRolePasswords, type TestServer } from '../../support/postgres';
import { FakeClock, FakePool, sub } from './fake-pool';
import { inProcessStore } from './in-process-store';

const PASSWORD = 'reconcile-property-test';
const POOL_ID = 'us-east-1_TestPool1';
const PEOPLE = 4;

let server: TestServer;
let admin: Client;
let writer: Client;
let writerStore: ReconcileStore;

beforeAll(async () => {
  let url: string;
  ({ server, url } = await startMigratedServer());
  admin = new Client({ connectionString: url });
  await admin.connect();
  await setRolePasswords(admin, ['sync_writer', 'user_reconciler'], PASSWORD);
  writer = new Client({ connectionString: `postgres://sync_writer:${PASSWORD}@127.0.0.1:${server.port}/postgres` });
  await writer.connect();
  writerStore = postgresReconcileStore(writer);
});

afterAll(async () => {
  await writer?.end();
  await admin?.end();
  await server?.destroy();
});

type Change = 'create' | 'rename' | 'newEmail' | 'disable' | 'enable' | 'delete';

interface Step {
  readonly change: Change;
  readonly person: number;
  /** One delivery of the step's event per key (none: the event is lost), in the order of all keys. */
  readonly deliveries: readonly number[];
}

const stepArbitrary = fc.record({
  change: fc.constantFrom<Change>('create', 'rename', 'newEmail', 'disable', 'enable', 'delete'),
  person: fc.integer({ min: 0, max: PEOPLE - 1 }),
  deliveries: fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 2 }),
});

/** What the user-events function would queue: the user as re-read at `readAt`, or an erase when it is gone. */
type Event = {
  readonly sub: string;
  readonly readAt: number;
  readonly state: ReturnType<typeof stateOf>['state'] | 'erase';
};

interface Person {
  sub: string;
  version: number;
}

async function scenario(steps: readonly Step[], policy: ErasurePolicy): Promise<void> {
  await admin.query('TRUNCATE public.users, sync.erased_users, sync.reconcile_runs RESTART IDENTITY CASCADE');
  const clock = new FakeClock();
  const pool = new FakePool(clock, 2);
  const people: (Person | undefined)[] = Array.from({ length: PEOPLE }, () => undefined);
  let generation = 0;
  const deliveries: { key: number; order: number; event: Event }[] = [];

  steps.forEach((step, order) => {
    clock.advance(1000);
    let person = people[step.person];
    if (step.change === 'create') {
      if (person !== undefined) return;
      // Cognito never reuses a sub: a person who comes back is a new user.
      generation += 1;
      person = { sub: sub(step.person * 1000 + generation), version: 0 };
      people[step.person] = person;
      pool.add(person.sub, {
        email: `p${step.person}v0@example.com`,
        name: `Name ${step.person} v0`,
        handle: `h${step.person}g${generation}`,
      });
    } else if (person === undefined) {
      return;
    } else if (step.change === 'delete') {
      pool.remove(person.sub);
      people[step.person] = undefined;
    } else {
      person.version += 1;
      const fields = {
        rename: { name: `Name ${step.person} v${person.version}` },
        newEmail: { email: `p${step.person}v${person.version}@example.com` },
        disable: { enabled: false },
        enable: { enabled: true },
      }[step.change];
      pool.change(person.sub, fields);
    }
    const target = person.sub;
    const readAt = clock.now();
    const event: Event = pool.users.has(target)
      ? { sub: target, readAt, state: stateOf(pool.userType(target), new Date(readAt).toISOString()).state }
      : { sub: target, readAt, state: 'erase' };
    for (const key of step.deliveries) deliveries.push({ key, order, event });
  });

  deliveries.sort((a, b) => a.key - b.key || a.order - b.order);
  for (const { event } of deliveries) {
    if (event.state === 'erase') await writerStore.erase(event.sub, policy);
    else if (event.state !== undefined) await writerStore.apply([event.state]);
  }

  clock.advance(60_000);
  // The run as it goes in AWS: the runner outside, the store function inside (in process, JSON between them).
  const { store, storeHandler } = inProcessStore(
    `postgres://user_reconciler:${PASSWORD}@127.0.0.1:${server.port}/postgres`,
    createLogger({}, () => undefined),
  );
  const handler = createHandler(
    {
      userPoolId: POOL_ID,
      erasurePolicy: policy,
      listRate: 5,
      prune: true,
      storeFunction: 'reconcile-store',
      functionName: 'reconcile',
    },
    {
      pool: cognitoPoolReader(pool.cognito, { userPoolId: POOL_ID, clock }),
      store,
      clock,
      logger: createLogger({}, () => undefined),
      metrics: () => undefined,
    },
  );
  let report;
  try {
    report = await handler(
      { mode: 'start', prune: true },
      { awsRequestId: 'property', getRemainingTimeInMillis: () => 15 * 60_000 },
    );
    expect(report.status).toBe('complete');
  } finally {
    await storeHandler.close();
  }
  if (pool.users.size === 0) {
    // The brake: a run that saw nobody erases nobody, whatever rows lost events left behind.
    expect(report.prune).toMatchObject({ erased: 0 });
    return;
  }

  const { rows } = await admin.query<{
    cognito_user_id: string;
    email: string | null;
    display_name: string | null;
    handle: string | null;
    enabled: boolean;
    deleted_at: Date | null;
  }>(
    'SELECT cognito_user_id, email, display_name, handle, enabled, deleted_at FROM public.users ORDER BY cognito_user_id',
  );
  const live = rows.filter((row) => row.deleted_at === null);
  const expected = [...pool.users.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([s, user]) => ({
      cognito_user_id: s,
      email: user.email ?? null,
      display_name: user.name ?? null,
      handle: user.handle ?? null,
      enabled: user.enabled,
      deleted_at: null,
    }));
  expect(live).toEqual(expected);
  // Whoever was erased keeps no personal data: no row (delete) or an empty one (anonymize).
  for (const row of rows.filter((r) => r.deleted_at !== null)) {
    expect(policy).toBe('anonymize');
    expect(row).toMatchObject({ email: null, display_name: null, handle: null, enabled: false });
    expect(pool.users.has(row.cognito_user_id)).toBe(false);
  }
}

describe('reconcile with prune, after lost, duplicated and reordered events', () => {
  it('leaves public.users equal to the pool', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArbitrary, { minLength: 1, maxLength: 24 }),
        fc.constantFrom<ErasurePolicy>('delete', 'anonymize'),
        scenario,
      ),
      // Modest: each run is a few dozen statements against a real server. fast-check prints the seed and the
      // path of a failing run; rerun it with { seed, path } here.
      { numRuns: 30 },
    );
  }, 120_000);
});
