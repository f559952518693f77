// The writer's group messages against a real PostgreSQL, logged in as sync_writer as the function is: a user's
// whole group list replaces their memberships (the user written first when the table lacks them), a deleted
// group's memberships go and stay gone, and duplicates and out-of-order delivery converge on the latest read.
import type { SQSEvent } from 'aws-lambda';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PoolUser } from '../../../lambdas/cognito/pool-user';
import { createHandler, type WriterHandler } from '../../../lambdas/replay/handler';
import { createLogger } from '../../../lambdas/runtime/logger';
import { deleteGroupMessageFor, groupsMessageFor, upsertMessageFor } from '../../../lambdas/sync/sync-message';
import { setRolePasswords, startMigratedServer, type TestServer } from '../../support/postgres';

const PASSWORD = 'replay-groups-test';

let server: TestServer;
let admin: Client;
let writer: WriterHandler;
let logLines: string[];

beforeAll(async () => {
  let url: string;
  ({ server, url } = await startMigratedServer());
  admin = new Client({ connectionString: url });
  await admin.connect();
  await setRolePasswords(admin, ['sync_writer'], PASSWORD);
  writer = createHandler(
    { database: { connectionUrl: `postgres://sync_writer:${PASSWORD}@127.0.0.1:${server.port}/postgres` } },
    { logger: createLogger({ service: 'replay' }, (line) => logLines.push(line)) },
  );
});

afterAll(async () => {
  await writer?.close();
  await admin?.end();
  await server?.destroy();
});

beforeEach(async () => {
  await admin.query('TRUNCATE public.users, sync.erased_users, sync.deleted_groups RESTART IDENTITY CASCADE');
  logLines = [];
});

afterEach(() => {
  expect(logLines.join('\n')).not.toMatch(/@example\.com|Jane Doe|pooled\d/);
});

function sub(n: number): string {
  return `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
}

function at(minute: number): Date {
  return new Date(Date.UTC(2026, 11, 1, 10, minute));
}

function poolUser(n: number, fields: Partial<PoolUser> = {}): PoolUser {
  return {
    cognitoUserId: sub(n),
    email: `user${n}@example.com`,
    displayName: 'Jane Doe',
    handle: `pooled${n}`,
    enabled: true,
    status: 'CONFIRMED',
    lastModified: at(0).toISOString(),
    ...fields,
  };
}

const groups = (n: number, minute: number, names: string[], fields: Partial<PoolUser> = {}) =>
  groupsMessageFor(poolUser(n, fields), names, at(minute), 'AdminAddUserToGroup');
const deleted = (group: string, minute: number) => deleteGroupMessageFor(group, at(minute), 'DeleteGroup');

let ids = 0;
function batch(...messages: unknown[]): SQSEvent {
  return {
    Records: messages.map((message) => ({
      messageId: `m-${(ids += 1)}`,
      body: JSON.stringify(message),
      attributes: { ApproximateReceiveCount: '1' },
    })),
  } as unknown as SQSEvent;
}

async function memberships(): Promise<string[]> {
  const { rows } = await admin.query<{ group_name: string; cognito_user_id: string }>(
    `SELECT g.group_name, u.cognito_user_id FROM public.user_groups AS g JOIN public.users AS u ON u.uuid = g.user_uuid
      ORDER BY 1, 2`,
  );
  return rows.map((row) => `${row.group_name}:${Number(row.cognito_user_id.slice(-12))}`);
}

function logged(outcome: string): Record<string, unknown>[] {
  return logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l.outcome === outcome);
}

describe('a groups message', () => {
  it("writes the user the table lacks, then their whole group list, as the pool's", async () => {
    expect(await writer(batch(groups(1, 1, ['editors', 'admins'])))).toEqual({ batchItemFailures: [] });
    expect(await memberships()).toEqual(['admins:1', 'editors:1']);
    const { rows } = await admin.query('SELECT email FROM public.users WHERE cognito_user_id = $1', [sub(1)]);
    expect(rows).toEqual([{ email: 'user1@example.com' }]);
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ sub: sub(1), kind: 'groups', userOutcome: 'inserted', outcome: 'updated', groups: 2 }),
    );
  });

  it('removes a group the newer list no longer holds, and an empty list removes every one', async () => {
    await writer(batch(groups(1, 1, ['admins', 'editors'])));
    await writer(batch(groups(1, 2, ['editors'])));
    expect(await memberships()).toEqual(['editors:1']);
    await writer(batch(groups(1, 3, [])));
    expect(await memberships()).toEqual([]);
  });

  it('converges on the latest read whatever order the add and the remove arrive in', async () => {
    const added = groups(1, 1, ['admins']);
    const removed = groups(1, 2, []);
    await writer(batch(removed, added));
    expect(await memberships()).toEqual([]);
    expect(logged('stale')).toHaveLength(1);

    await admin.query('TRUNCATE public.users, sync.deleted_groups RESTART IDENTITY CASCADE');
    await writer(batch(added, removed));
    expect(await memberships()).toEqual([]);
  });

  it('changes nothing when the same message is delivered three times', async () => {
    const message = groups(1, 1, ['admins']);
    await writer(batch(message));
    const before = (await admin.query('SELECT group_name, seen_at FROM public.user_groups')).rows;
    await writer(batch(message, message));
    expect((await admin.query('SELECT group_name, seen_at FROM public.user_groups')).rows).toEqual(before);
    expect(logged('unchanged')).toHaveLength(2);
  });

  it('writes nothing for a user who is not confirmed yet, and acknowledges the message', async () => {
    expect(await writer(batch(groups(1, 1, ['admins'], { status: 'UNCONFIRMED' })))).toEqual({
      batchItemFailures: [],
    });
    expect(await memberships()).toEqual([]);
    expect((await admin.query('SELECT count(*)::int AS n FROM public.users')).rows).toEqual([{ n: 0 }]);
  });

  it('never writes the groups of an erased user back', async () => {
    await writer(batch(groups(1, 1, ['admins'])));
    await admin.query("SELECT sync.erase_user($1, 'delete')", [sub(1)]);
    expect(await writer(batch(groups(1, 2, ['admins'])))).toEqual({ batchItemFailures: [] });
    expect(await memberships()).toEqual([]);
  });

  it('rejects a message whose group list holds something that is not a group name, naming the field only', async () => {
    const bad = { ...groups(1, 1, ['admins']), groups: ['admins', 'two words'] };
    const result = await writer(batch(bad));
    expect(result.batchItemFailures).toHaveLength(1);
    expect(logged('rejected')).toEqual([expect.objectContaining({ field: 'body.groups[1]' })]);
    expect(await memberships()).toEqual([]);
  });
});

describe('a delete-group message', () => {
  it("removes the group's memberships seen before it, and an older list delivered after cannot bring it back", async () => {
    await writer(batch(groups(1, 1, ['admins', 'editors']), groups(2, 1, ['admins'])));
    await writer(batch(deleted('admins', 3)));
    expect(await memberships()).toEqual(['editors:1']);
    expect(logged('stale')).toHaveLength(0);
    // A list read before the deletion, delivered late.
    await writer(batch(groups(2, 2, ['admins', 'editors'])));
    expect(await memberships()).toEqual(['editors:1', 'editors:2']);
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ kind: 'delete-group', group: 'admins', removed: 2 }),
    );
  });

  it('keeps a membership of the group made again and read after the deletion, and repeats harmlessly', async () => {
    await writer(batch(groups(1, 1, ['admins'])));
    await writer(batch(groups(1, 5, ['admins']), deleted('admins', 3), deleted('admins', 3)));
    expect(await memberships()).toEqual(['admins:1']);
  });
});

describe('messages of every kind in one batch', () => {
  it('applies an upsert, a groups message and a delete-group side by side', async () => {
    const upsert = upsertMessageFor(poolUser(3), at(1), 'AdminUpdateUserAttributes');
    expect(await writer(batch(upsert, groups(1, 1, ['admins']), deleted('old', 1)))).toEqual({
      batchItemFailures: [],
    });
    expect(await memberships()).toEqual(['admins:1']);
    expect((await admin.query('SELECT count(*)::int AS n FROM public.users')).rows).toEqual([{ n: 2 }]);
  });
});
