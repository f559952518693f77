// The reconcile's groups phase as it runs in AWS: the runner's handler reading a fake pool's groups (ListGroups,
// ListUsersInGroup through the real adapter, Cognito mocked) on a fake clock, the store function's handler in
// process behind the remote store (a JSON round trip each way), logged in as user_reconciler to a real
// PostgreSQL. Memberships follow the pool: added, removed, a deleted group's gone, an erased user's never
// written, and a run cut short in its groups phase is resumed after the last group it finished.
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cognitoPoolReader } from '../../../lambdas/cognito/user-pool';
import { reconcile } from '../../../lambdas/reconcile/core';
import { createHandler, TIME_MARGIN_MS, type ReconcileHandler } from '../../../lambdas/reconcile/handler';
import { operatorReconcileStore } from '../../../lambdas/reconcile/postgres-store';
import { InvalidStoreRequestError, parseStoreRequest, STORE_METHODS } from '../../../lambdas/reconcile/store-protocol';
import { createLogger } from '../../../lambdas/runtime/logger';
import { setRolePasswords, startMigratedServer, type TestServer } from '../../support/postgres';
import { FakeClock, FakePool, sub } from './fake-pool';
import { inProcessStore, type InProcessStore } from './in-process-store';

const PASSWORD = 'reconcile-groups-test';
const POOL_ID = 'us-east-1_GroupsPool1';

let server: TestServer;
let admin: Client;
let reconcilerUrl: string;
let clock: FakeClock;
let pool: FakePool;
let logLines: string[];
const stores: InProcessStore[] = [];

beforeAll(async () => {
  let url: string;
  ({ server, url } = await startMigratedServer());
  admin = new Client({ connectionString: url });
  await admin.connect();
  await setRolePasswords(admin, ['user_reconciler'], PASSWORD);
  reconcilerUrl = `postgres://user_reconciler:${PASSWORD}@127.0.0.1:${server.port}/postgres`;
});

afterAll(async () => {
  await admin?.end();
  await server?.destroy();
});

beforeEach(async () => {
  await admin.query(
    'TRUNCATE public.users, sync.erased_users, sync.reconcile_runs, sync.pool_binding, sync.deleted_groups RESTART IDENTITY CASCADE',
  );
  clock = new FakeClock();
  pool = new FakePool(clock, 3);
  logLines = [];
});

afterEach(async () => {
  expect(logLines.join('\n')).not.toMatch(/@example\.com|Person \d|handle\d/);
  await Promise.all(stores.splice(0).map(({ storeHandler }) => storeHandler.close()));
});

const logger = () => createLogger({ service: 'reconcile' }, (line) => logLines.push(line));

function side(): InProcessStore {
  const s = inProcessStore(reconcilerUrl, logger());
  stores.push(s);
  return s;
}

function handlerFor(store: InProcessStore = side()): ReconcileHandler {
  return createHandler(
    {
      userPoolId: POOL_ID,
      erasurePolicy: 'delete',
      listRate: 5,
      prune: true,
      storeFunction: 'reconcile-store',
      functionName: 'Cruddur-test-reconcile',
    },
    {
      pool: cognitoPoolReader(pool.cognito, { userPoolId: POOL_ID, listRate: 5, clock }),
      store: store.store,
      clock,
      logger: logger(),
      metrics: () => undefined,
    },
  );
}

function context(remainingMs = 15 * 60_000) {
  return { awsRequestId: 'req-groups', getRemainingTimeInMillis: () => remainingMs };
}

function person(n: number) {
  return { email: `person${n}@example.com`, name: `Person ${n}`, handle: `handle${n}` };
}

/** Every membership, as `group:n` with n the user's number, sorted. */
async function memberships(): Promise<string[]> {
  const { rows } = await admin.query<{ group_name: string; cognito_user_id: string }>(
    `SELECT g.group_name, u.cognito_user_id FROM public.user_groups AS g JOIN public.users AS u ON u.uuid = g.user_uuid
      ORDER BY 1, 2`,
  );
  return rows.map((row) => `${row.group_name}:${Number(row.cognito_user_id.slice(-12))}`);
}

function users(...numbers: number[]): void {
  for (const n of numbers) pool.add(sub(n), person(n));
}

describe('the groups phase', () => {
  it('brings the memberships into the table after the users, in pages, and counts them as drift', async () => {
    users(1, 2, 3, 4, 5, 6, 7);
    pool.addToGroup('admins', sub(1), sub(2));
    // Seven members in pages of three: three pages, one scan.
    pool.addToGroup('editors', sub(1), sub(2), sub(3), sub(4), sub(5), sub(6), sub(7));
    const report = await handlerFor()({ mode: 'start' }, context());
    expect(report.status).toBe('complete');
    expect(report.groups).toMatchObject({
      listed: 2,
      scanned: 2,
      members: 9,
      added: 9,
      removed: 0,
      groupsDeleted: 0,
      complete: true,
      compared: true,
    });
    expect(report.drift).toBe(7 + 9);
    expect(await memberships()).toEqual(['admins:1', 'admins:2', ...[1, 2, 3, 4, 5, 6, 7].map((n) => `editors:${n}`)]);
    expect(pool.memberRequests.filter(([group]) => group === 'editors')).toHaveLength(3);
    const { rows } = await admin.query('SELECT groups_done_at IS NOT NULL AS done FROM sync.reconcile_runs');
    expect(rows).toEqual([{ done: true }]);
  });

  it('removes a membership the pool no longer lists and deletes a group the pool no longer has', async () => {
    users(1, 2, 3);
    pool.addToGroup('admins', sub(1), sub(2));
    pool.addToGroup('old', sub(3));
    const handler = handlerFor();
    await handler({ mode: 'start' }, context());
    expect(await memberships()).toEqual(['admins:1', 'admins:2', 'old:3']);

    pool.removeFromGroup('admins', sub(2));
    pool.deleteGroup('old');
    clock.advance(60_000);
    const report = await handler({ mode: 'start' }, context());
    expect(report.groups).toMatchObject({ listed: 1, added: 0, removed: 1, groupsDeleted: 1, deletedMemberships: 1 });
    expect(report.drift).toBe(2);
    expect(await memberships()).toEqual(['admins:1']);
    // Remembered, so that a group list read before the deletion cannot bring it back.
    expect((await admin.query('SELECT group_name FROM sync.deleted_groups')).rows).toEqual([{ group_name: 'old' }]);
    clock.advance(60_000);
    expect((await handler({ mode: 'start' }, context())).groups).toMatchObject({
      added: 0,
      removed: 0,
      groupsDeleted: 0,
    });
  });

  it('treats a group deleted while the phase reads it as gone', async () => {
    users(1, 2);
    pool.addToGroup('admins', sub(1));
    pool.addToGroup('old', sub(2));
    const handler = handlerFor();
    await handler({ mode: 'start' }, context());
    clock.advance(60_000);
    // Listed by ListGroups, then deleted before its members are asked for.
    pool.onMemberPage = (group) => {
      if (group === 'admins') pool.deleteGroup('old');
    };
    const report = await handler({ mode: 'start' }, context());
    expect(report.groups).toMatchObject({ listed: 2, scanned: 1, groupsDeleted: 1, complete: true });
    expect(await memberships()).toEqual(['admins:1']);
  });

  it("never writes an erased user's membership, and erasure takes the ones they had", async () => {
    users(1, 2);
    pool.addToGroup('admins', sub(1), sub(2));
    const handler = handlerFor();
    await handler({ mode: 'start' }, context());
    await admin.query("SELECT sync.erase_user($1, 'anonymize')", [sub(1)]);
    expect(await memberships()).toEqual(['admins:2']);
    clock.advance(60_000);
    // The pool still lists the erased user (a wrong erasure, or one the pool has not caught up with).
    const report = await handler({ mode: 'start' }, context());
    expect(report.groups).toMatchObject({ erased: 1, added: 0 });
    expect(await memberships()).toEqual(['admins:2']);
  });

  it('writes nothing for a member who is not confirmed yet, and counts them', async () => {
    users(1);
    pool.add(sub(2), { ...person(2), status: 'UNCONFIRMED' });
    pool.addToGroup('admins', sub(1), sub(2));
    const report = await handlerFor()({ mode: 'start' }, context());
    expect(report.groups).toMatchObject({ members: 2, added: 1, notSynced: 1 });
    expect(await memberships()).toEqual(['admins:1']);
  });

  it('resumes a run cut short in its groups phase after the last group it finished', async () => {
    users(1, 2, 3);
    pool.addToGroup('a', sub(1));
    pool.addToGroup('b', sub(2));
    pool.addToGroup('c', sub(3));
    // The deadline passes while group b is read: a is done, b is cut short, c never begun.
    pool.onMemberPage = (group) => {
      if (group === 'b') clock.advance(120_000);
    };
    const handler = handlerFor();
    const first = await handler({ mode: 'start' }, context(TIME_MARGIN_MS + 60_000));
    expect(first.status).toBe('incomplete');
    expect(first.groups).toMatchObject({ listed: 3, scanned: 2, complete: false });
    expect(await memberships()).toEqual(['a:1', 'b:2']);
    expect((await admin.query('SELECT groups_after, groups_done_at FROM sync.reconcile_runs')).rows).toEqual([
      { groups_after: 'b', groups_done_at: null },
    ]);

    pool.onMemberPage = undefined;
    pool.memberRequests.length = 0;
    pool.addToGroup('a', sub(2));
    pool.addToGroup('c', sub(1));
    const listsBefore = pool.listTokens.length;
    const second = await handler({ mode: 'continue' }, context());
    expect(second).toMatchObject({ status: 'complete', runId: '1', resumed: true, pages: 0 });
    expect(second.groups).toMatchObject({ listed: 3, scanned: 1, complete: true });
    // No users page read again, and only the group after b.
    expect(pool.listTokens.length).toBe(listsBefore);
    expect(pool.memberRequests).toEqual([['c', undefined]]);
    // a's new member waits for the next run; c's are written.
    expect(await memberships()).toEqual(['a:1', 'b:2', 'c:1', 'c:3']);
    expect((await admin.query('SELECT groups_done_at IS NOT NULL AS done FROM sync.reconcile_runs')).rows).toEqual([
      { done: true },
    ]);
    // Nothing left to continue.
    expect(await handler({ mode: 'continue' }, context())).toMatchObject({ status: 'no_open_run' });
    clock.advance(60_000);
    await handler({ mode: 'start' }, context());
    expect(await memberships()).toEqual(['a:1', 'a:2', 'b:2', 'c:1', 'c:3']);
  });

  it('reads the groups in a dry run, writing and comparing nothing', async () => {
    users(1, 2);
    pool.addToGroup('admins', sub(1), sub(2));
    const report = await reconcile(
      { mode: 'start', prune: false, dryRun: true, erasurePolicy: 'delete', userPoolId: POOL_ID },
      {
        pool: cognitoPoolReader(pool.cognito, { userPoolId: POOL_ID, listRate: 30, clock }),
        store: operatorReconcileStore(admin),
        clock,
        logger: logger(),
      },
    );
    expect(report.groups).toMatchObject({ listed: 1, scanned: 1, members: 2, added: 0, compared: false });
    expect(report.drift).toBe(2);
    expect(await memberships()).toEqual([]);
  });

  it('sends every groups call through the store protocol, each a method the store function accepts', async () => {
    users(1);
    pool.addToGroup('admins', sub(1));
    const store = side();
    await handlerFor(store)({ mode: 'start' }, context());
    const methods = new Set(store.requests.map((request) => request.method));
    for (const method of ['groupsPending', 'applyGroupMembers', 'endGroupMembers', 'pruneGroups', 'recordGroupScan'])
      expect(methods).toContain(method);
    expect(STORE_METHODS).toEqual(expect.arrayContaining([...methods]));
  });
});

describe("the store function's checks of a groups call", () => {
  const at = '2026-12-01T10:00:00.000Z';
  it.each([
    ['a group name with a space', { method: 'applyGroupMembers', args: ['two words', [sub(1)], at] }, 'args[0]'],
    ['a group name of 129 characters', { method: 'endGroupMembers', args: ['g'.repeat(129), at] }, 'args[0]'],
    ['a page of 61 subs', { method: 'applyGroupMembers', args: ['admins', Array(61).fill(sub(1)), at] }, 'args[1]'],
    ['a sub that is not one', { method: 'applyGroupMembers', args: ['admins', ['x\n'], at] }, 'args[1][0]'],
    ['a time that is not one', { method: 'endGroupMembers', args: ['admins', 'yesterday'] }, 'args[1]'],
    ['a listing with a bad name', { method: 'pruneGroups', args: [['ok', ''], at] }, 'args[0][1]'],
    ['a run id that is not one', { method: 'recordGroupScan', args: ['0', 'admins'] }, 'args[0]'],
  ])('refuses %s, naming the field', (_, request, field) => {
    const error = (() => {
      try {
        return parseStoreRequest(request);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidStoreRequestError);
    expect((error as InvalidStoreRequestError).field).toBe(field);
  });

  it('takes a well-formed call, a group name of any script included', () => {
    expect(parseStoreRequest({ method: 'applyGroupMembers', args: ['Администраторы', [sub(1)], at] })).toEqual({
      method: 'applyGroupMembers',
      args: ['Администраторы', [sub(1)], at],
    });
    expect(parseStoreRequest({ method: 'recordGroupScan', args: ['7', null] })).toEqual({
      method: 'recordGroupScan',
      args: ['7', null],
    });
  });
});
