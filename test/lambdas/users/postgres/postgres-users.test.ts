// The adapters as deployed: each logged in as the role its function uses, against a real migrated server, so
// that a statement needing a privilege the role lacks fails here and not in AWS.
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolUser } from '../../../../lambdas/cognito/pool-user';
import { LazyConnection } from '../../../../lambdas/postgres/connection';
import { urlSource } from '../../../../lambdas/postgres/connection-source';
import {
  createHandleDirectory,
  createSignUpWriter,
  createSyncWriter,
  SIGN_UP_STATEMENT,
} from '../../../../lambdas/users/postgres/postgres-users';
import { UserRefusedError } from '../../../../lambdas/users/users-repository';
import { startMigratedServer, setRolePasswords, type TestServer } from '../../../support/postgres';

const TEST_PASSWORD = 'adapters-local-test';
let server: TestServer;
let admin: Client;
const clients: Client[] = [];
const connections: LazyConnection[] = [];

/** The writers' connection as deployed: a LazyConnection, which takes the named statement and reconnects. */
function lazyAs(role: string): LazyConnection {
  const connection = new LazyConnection(
    urlSource(`postgres://${role}:${TEST_PASSWORD}@127.0.0.1:${server.port}/postgres`),
    { applicationName: `adapters-${role}` },
  );
  connections.push(connection);
  return connection;
}

async function connectAs(role: string): Promise<Client> {
  const client = new Client({
    connectionString: `postgres://${role}:${TEST_PASSWORD}@127.0.0.1:${server.port}/postgres`,
  });
  await client.connect();
  clients.push(client);
  return client;
}

function poolUser(sub: string, fields: Partial<PoolUser> = {}): PoolUser {
  return {
    cognitoUserId: sub,
    email: `${sub}@example.com`,
    displayName: 'Name',
    handle: sub.replace(/-/g, '_'),
    enabled: true,
    status: 'CONFIRMED',
    lastModified: null,
    ...fields,
  };
}

const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 10, minute));

async function row(sub: string) {
  const { rows } = await admin.query(
    'SELECT email, handle, enabled, synced_at FROM public.users WHERE cognito_user_id = $1',
    [sub],
  );
  return rows[0] as { email: string | null; handle: string | null; enabled: boolean; synced_at: Date } | undefined;
}

beforeAll(async () => {
  let url: string;
  ({ server, url } = await startMigratedServer());
  admin = new Client({ connectionString: url });
  await admin.connect();
  await setRolePasswords(admin, ['signup_writer', 'sync_writer', 'handle_checker'], TEST_PASSWORD);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.end()));
  await Promise.all(connections.map((connection) => connection.close()));
  await admin?.end();
  await server?.destroy();
});

describe('the sign-up writer as signup_writer', () => {
  it('signs a user up, tries the next handle candidate when one is taken, and leaves an existing row as it is', async () => {
    const writer = createSignUpWriter(lazyAs('signup_writer'));
    const user = { cognitoUserId: 'su-1', email: 'a@example.com', displayName: 'A', handle: 'shared' };
    expect(await writer.signUp(user, at(1))).toEqual({ outcome: 'inserted', handleAdjusted: false });
    expect(await writer.signUp({ ...user, email: 'new@example.com' }, at(2))).toEqual({
      outcome: 'exists',
      handleAdjusted: false,
    });
    expect((await row('su-1'))?.email).toBe('a@example.com');
    expect(await writer.signUp({ ...user, cognitoUserId: 'su-2', handle: 'SHARED' }, at(1))).toEqual({
      outcome: 'inserted',
      handleAdjusted: true,
    });
    expect((await row('su-2'))?.handle).toBe('SHARED_su2');
  });

  it('runs the sign-up as a named prepared statement, which still works after the server ends the session', async () => {
    const connection = lazyAs('signup_writer');
    const writer = createSignUpWriter(connection);
    const user = (sub: string) => ({ cognitoUserId: sub, email: null, displayName: null, handle: null });
    expect((await writer.signUp(user('su-p1'), at(1))).outcome).toBe('inserted');
    const prepared = await connection.query<{ name: string; pid: number }>(
      'SELECT name, pg_backend_pid() AS pid FROM pg_prepared_statements',
    );
    expect(prepared.rows.map((statement) => statement.name)).toEqual([SIGN_UP_STATEMENT]);
    // The session ends under the warm container, as idle_session_timeout or a failover ends it.
    await admin.query('SELECT pg_terminate_backend($1)', [prepared.rows[0]!.pid]);
    expect((await writer.signUp(user('su-p2'), at(1))).outcome).toBe('inserted');
    const again = await connection.query<{ name: string; pid: number }>(
      'SELECT name, pg_backend_pid() AS pid FROM pg_prepared_statements',
    );
    expect(again.rows.map((statement) => statement.name)).toEqual([SIGN_UP_STATEMENT]);
    expect(again.rows[0]!.pid).not.toBe(prepared.rows[0]!.pid);
    expect(await row('su-p2')).toBeDefined();
  });

  it('turns a read_at more than 5 minutes ahead into a UserRefusedError with SY002, writing nothing', async () => {
    const writer = createSignUpWriter(lazyAs('signup_writer'));
    const error = await writer
      .signUp(
        { cognitoUserId: 'su-future', email: null, displayName: null, handle: null },
        new Date(Date.now() + 6 * 60_000),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserRefusedError);
    expect(error).toMatchObject({ sub: 'su-future', code: 'SY002' });
    expect(await row('su-future')).toBeUndefined();
  });

  it('turns a refusal by the database into a UserRefusedError naming the sub and the SQLSTATE, never a value', async () => {
    const writer = createSignUpWriter(lazyAs('signup_writer'));
    await admin.query(
      "ALTER TABLE public.users ADD CONSTRAINT refuse_one CHECK (email IS DISTINCT FROM 'no@example.com')",
    );
    try {
      const error = await writer
        .signUp({ cognitoUserId: 'su-3', email: 'no@example.com', displayName: null, handle: null }, at(1))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserRefusedError);
      expect(error).toMatchObject({ sub: 'su-3', code: '23514', constraint: 'refuse_one' });
      expect((error as Error).message).not.toContain('no@example.com');
    } finally {
      await admin.query('ALTER TABLE public.users DROP CONSTRAINT refuse_one');
    }
  });
});

describe('the sync writer as sync_writer', () => {
  it('applies pool states in read order and erases by either policy', async () => {
    const writer = createSyncWriter(lazyAs('sync_writer'));
    expect(await writer.apply(poolUser('sw-1', { enabled: false }), at(2))).toEqual({ outcome: 'inserted' });
    expect(await writer.apply(poolUser('sw-1', { email: 'older@example.com' }), at(1))).toEqual({ outcome: 'stale' });
    expect(await row('sw-1')).toMatchObject({ email: 'sw-1@example.com', enabled: false, synced_at: at(2) });
    expect(await writer.erase('sw-1', 'delete')).toBe('erased');
    expect(await writer.erase('sw-1', 'delete')).toBe('already_erased');
    expect(await writer.apply(poolUser('sw-1'), at(3))).toEqual({ outcome: 'erased' });
    expect(await writer.signUp({ cognitoUserId: 'sw-1', email: null, displayName: null, handle: null }, at(4))).toEqual(
      { outcome: 'erased', handleAdjusted: false },
    );
    expect(await row('sw-1')).toBeUndefined();

    await writer.apply(poolUser('sw-2'), at(1));
    expect(await writer.erase('sw-2', 'anonymize')).toBe('erased');
    expect(await row('sw-2')).toBeUndefined();
    const { rows: ghosts } = await admin.query(
      "SELECT email, handle, enabled FROM public.users WHERE cognito_user_id LIKE 'erased-%'",
    );
    expect(ghosts).toEqual([{ email: null, handle: null, enabled: false }]);
  });

  it('keeps the row’s handle when the pool’s was outside the rule (mapped to none)', async () => {
    const writer = createSyncWriter(lazyAs('sync_writer'));
    await writer.apply(poolUser('sw-3', { handle: 'kept_handle' }), at(1));
    expect(
      await writer.apply(poolUser('sw-3', { handle: null, handleRefused: true, email: 'new@example.com' }), at(2)),
    ).toEqual({ outcome: 'updated' });
    expect(await row('sw-3')).toMatchObject({ email: 'new@example.com', handle: 'kept_handle' });
  });

  it('reports a user the database refuses with the SQLSTATE instead of throwing', async () => {
    const writer = createSyncWriter(lazyAs('sync_writer'));
    await admin.query(
      "ALTER TABLE public.users ADD CONSTRAINT refuse_one CHECK (email IS DISTINCT FROM 'no@example.com')",
    );
    try {
      expect(await writer.apply(poolUser('sw-4', { email: 'no@example.com' }), at(1))).toEqual({
        outcome: 'refused',
        errorCode: '23514',
      });
    } finally {
      await admin.query('ALTER TABLE public.users DROP CONSTRAINT refuse_one');
    }
  });
});

describe('the handle directory as handle_checker', () => {
  it('knows whether a handle is taken, ignoring case', async () => {
    await createSyncWriter(lazyAs('sync_writer')).apply(poolUser('hc-1', { handle: 'Taken_Handle' }), at(1));
    const handles = createHandleDirectory(await connectAs('handle_checker'));
    expect(await handles.isTaken('taken_HANDLE')).toBe(true);
    expect(await handles.isTaken('free_handle')).toBe(false);
  });
});
