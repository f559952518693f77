// Fault injection against a real PostgreSQL: the server stopped, restarted, locked, its backend killed, and
// one event delivered twenty times at once. The fallback here is a recording port; the SQS adapter behind it
// is exercised in fallback.test.ts.
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handlePostConfirmation, type PostConfirmationDeps } from '../../../lambdas/post-confirmation/core';
import { writeBatch } from '../../../lambdas/replay/core';
import { LazyConnection, type LazyConnectionOptions } from '../../../lambdas/postgres/connection';
import { urlSource } from '../../../lambdas/postgres/connection-source';
import { DatabaseUnavailableError } from '../../../lambdas/postgres/errors';
import { createLogger } from '../../../lambdas/runtime/logger';
import type { SignUpMessage } from '../../../lambdas/sync/sign-up-message';
import { createSignUpWriter, createSyncWriter } from '../../../lambdas/users/postgres/postgres-users';
import { signUpEvent } from '../../support/lambda';
import { startMigratedServer, type TestServer } from '../../support/postgres';

let server: TestServer;
let url: string;
let logLines: string[];
const open: LazyConnection[] = [];
const held: Client[] = [];

function sub(n: number): string {
  return `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
}

/** One function container: its own lazily opened connection. */
function container(options: LazyConnectionOptions = {}): LazyConnection {
  const connection = new LazyConnection(urlSource(url), { applicationName: 'faults', ...options });
  open.push(connection);
  return connection;
}

function recordingQueue() {
  const messages: SignUpMessage[] = [];
  return {
    messages,
    send: (message: SignUpMessage) => {
      messages.push(structuredClone(message));
      return Promise.resolve();
    },
  };
}

function deps(connection: LazyConnection, fallback?: PostConfirmationDeps['fallback']): PostConfirmationDeps {
  return {
    users: createSignUpWriter(connection),
    logger: createLogger({}, (line) => logLines.push(line)),
    ...(fallback ? { fallback } : {}),
  };
}

/** A superuser session of its own (new after every restart). */
async function session(): Promise<Client> {
  const client = new Client({ connectionString: url });
  // Stopping the server kills these sessions too; that is expected, not a test failure.
  client.on('error', () => undefined);
  await client.connect();
  held.push(client);
  return client;
}

async function countRows(cognitoUserId: string): Promise<number> {
  const client = await session();
  const { rows } = await client.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM public.users WHERE cognito_user_id = $1',
    [cognitoUserId],
  );
  return rows[0]?.n ?? -1;
}

/** Holds an ACCESS EXCLUSIVE lock on public.users in an open transaction; returns the release. */
async function lockUsersTable(): Promise<() => Promise<void>> {
  const holder = await session();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE');
  return async () => {
    await holder.query('ROLLBACK');
  };
}

/** Waits until a backend of the given application is blocked on a lock, and returns its pid. */
async function blockedBackend(applicationName: string): Promise<number> {
  const watcher = await session();
  for (let i = 0; i < 500; i += 1) {
    const { rows } = await watcher.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
      [applicationName],
    );
    if (rows[0]) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no backend of ${applicationName} ever waited on a lock`);
}

function replay(messages: readonly SignUpMessage[], connection: LazyConnection) {
  return writeBatch(
    { Records: messages.map((message, i) => ({ messageId: `m-${i}`, body: JSON.stringify(message) })) } as never,
    {
      users: createSyncWriter(connection),
      erasurePolicy: 'delete',
      logger: createLogger({}, (line) => logLines.push(line)),
    },
  );
}

beforeAll(async () => {
  ({ server, url } = await startMigratedServer());
});

afterAll(async () => {
  await server?.destroy();
});

beforeEach(async () => {
  logLines = [];
  await server.start();
  const admin = await session();
  await admin.query('TRUNCATE public.users CASCADE');
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
  await Promise.all(held.splice(0).map((client) => client.end().catch(() => undefined)));
  for (const line of logLines) expect(line).not.toMatch(/@example\.com|Jane Doe|janedoe/);
});

describe('when the server is stopped before an invocation', () => {
  it('queues the event, returns it, and the replay writes exactly one row after the restart', async () => {
    const connection = container();
    await handlePostConfirmation(signUpEvent({ sub: sub(1) }), deps(connection));
    await server.stop();

    const queue = recordingQueue();
    const event = signUpEvent({ sub: sub(2) });
    await expect(handlePostConfirmation(event, deps(connection, queue))).resolves.toBe(event);

    expect(queue.messages).toEqual([
      {
        version: 1,
        triggerSource: 'PostConfirmation_ConfirmSignUp',
        userPoolId: 'us-east-1_EXAMPLE1',
        userName: '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21',
        userAttributes: { sub: sub(2), email: 'jane.doe@example.com', name: 'Jane Doe', preferred_username: 'janedoe' },
      },
    ]);
    const queued = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.outcome === 'queued');
    expect(queued).toMatchObject({ level: 'WARN', sub: sub(2), errorName: 'DatabaseUnavailableError' });

    await server.start();
    expect(await countRows(sub(2))).toBe(0);
    await expect(replay(queue.messages, container())).resolves.toEqual({ batchItemFailures: [] });
    expect(await countRows(sub(2))).toBe(1);
  });

  it('queues the event from a cold container that never reached the database', async () => {
    await server.stop();
    const queue = recordingQueue();
    await handlePostConfirmation(signUpEvent({ sub: sub(3) }), deps(container(), queue));
    expect(queue.messages.map((message) => message.userAttributes.sub)).toEqual([sub(3)]);
  });

  it('throws DatabaseUnavailableError when no fallback is configured (the local stack)', async () => {
    await server.stop();
    const error = await handlePostConfirmation(signUpEvent({ sub: sub(4) }), deps(container())).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('throws the DatabaseUnavailableError and logs both failures when the queue refuses too', async () => {
    await server.stop();
    const refusing = {
      send: () => Promise.reject(Object.assign(new Error('queue down'), { name: 'ServiceUnavailable' })),
    };
    const error = await handlePostConfirmation(signUpEvent({ sub: sub(5) }), deps(container(), refusing)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    const failed = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.outcome === 'failed');
    expect(failed).toMatchObject({
      level: 'ERROR',
      sub: sub(5),
      errorName: 'DatabaseUnavailableError',
      queueErrorName: 'ServiceUnavailable',
    });
  });
});

describe('when the server restarts between invocations', () => {
  it('reconnects and writes the next event without an error or a queued message', async () => {
    const connection = container();
    const queue = recordingQueue();
    await handlePostConfirmation(signUpEvent({ sub: sub(10) }), deps(connection, queue));
    await server.stop();
    await server.start();
    await handlePostConfirmation(signUpEvent({ sub: sub(11), preferred_username: 'other' }), deps(connection, queue));
    expect(queue.messages).toEqual([]);
    expect(await countRows(sub(11))).toBe(1);
  });
});

describe('when a lock held by another session hangs the statement', () => {
  it('ends the invocation within the budget with the event queued and nothing written', async () => {
    // The production timeouts (DEFAULT_TIMEOUTS): the lock wait is cut by lock_timeout.
    const connection = container();
    await handlePostConfirmation(signUpEvent({ sub: sub(20) }), deps(connection));
    const release = await lockUsersTable();
    const queue = recordingQueue();
    const started = Date.now();
    await handlePostConfirmation(signUpEvent({ sub: sub(21), preferred_username: 'locked' }), deps(connection, queue));
    // Cognito's contract (5 s, less time to answer), not a performance target: that lives in the benchmark.
    expect(Date.now() - started).toBeLessThan(4500);
    expect(queue.messages.map((message) => message.userAttributes.sub)).toEqual([sub(21)]);
    await release();
    expect(await countRows(sub(21))).toBe(0);
  });

  it('throws DatabaseUnavailableError with a timeout SQLSTATE when no fallback is configured', async () => {
    const connection = container();
    await connection.query('SELECT 1');
    const release = await lockUsersTable();
    const error = await handlePostConfirmation(signUpEvent({ sub: sub(22) }), deps(connection)).catch(
      (e: unknown) => e,
    );
    await release();
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    // lock_timeout and statement_timeout are both 1 s: whichever the server checks first cancels the wait.
    expect(['55P03', '57014']).toContain((error as DatabaseUnavailableError).code);
  });

  it('cuts a statement the server runs too long with statement_timeout', async () => {
    const connection = container({ timeouts: { statementMs: 200 } });
    const error = await connection.query('SELECT pg_sleep(5)').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ code: '57014' });
  });
});

describe('when the connection is killed mid-statement', () => {
  // Generous timeouts so that the kill, not a lock timeout, is what ends the statement.
  const slow: LazyConnectionOptions = {
    timeouts: { connectMs: 2000, statementMs: 10_000, queryMs: 12_000 },
    budgetMs: 30_000,
  };

  it('writes nothing, queues the event, and the redelivery inserts exactly one row', async () => {
    const connection = container({ ...slow, applicationName: 'faults-kill-cold' });
    const release = await lockUsersTable();
    const queue = recordingQueue();
    const invocation = handlePostConfirmation(signUpEvent({ sub: sub(30) }), deps(connection, queue));
    const pid = await blockedBackend('faults-kill-cold');
    const killer = await session();
    await killer.query('SELECT pg_terminate_backend($1)', [pid]);
    await expect(invocation).resolves.toBeDefined();
    await release();

    expect(queue.messages.map((message) => message.userAttributes.sub)).toEqual([sub(30)]);
    const queued = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.outcome === 'queued');
    expect(queued).toMatchObject({ sub: sub(30), errorCode: '57P01' });
    expect(await countRows(sub(30))).toBe(0);
    // SQS delivers at least once: two deliveries of the same message still make one row.
    await expect(replay([...queue.messages, ...queue.messages], container())).resolves.toEqual({
      batchItemFailures: [],
    });
    expect(await countRows(sub(30))).toBe(1);
  });

  it('retries a reused connection on a new one and inserts exactly one row', async () => {
    const connection = container({ ...slow, applicationName: 'faults-kill-warm' });
    await handlePostConfirmation(signUpEvent({ sub: sub(31) }), deps(connection));
    const release = await lockUsersTable();
    const queue = recordingQueue();
    const invocation = handlePostConfirmation(
      signUpEvent({ sub: sub(32), preferred_username: 'killed' }),
      deps(connection, queue),
    );
    const pid = await blockedBackend('faults-kill-warm');
    const killer = await session();
    await killer.query('SELECT pg_terminate_backend($1)', [pid]);
    // The retry waits on the same lock until it is released, then commits.
    await release();
    await expect(invocation).resolves.toBeDefined();

    expect(queue.messages).toEqual([]);
    expect(await countRows(sub(32))).toBe(1);
    const written = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.sub === sub(32));
    expect(written).toEqual([expect.objectContaining({ outcome: 'inserted' })]);
  });
});

describe('when one event is delivered twenty times at once', () => {
  it('writes exactly one row from twenty containers, one of them inserting and none writing after it', async () => {
    const event = signUpEvent({ sub: sub(40) });
    await Promise.all(
      Array.from({ length: 20 }, () => handlePostConfirmation(structuredClone(event), deps(container()))),
    );
    expect(await countRows(sub(40))).toBe(1);
    const outcomes = logLines.map((line) => (JSON.parse(line) as { outcome?: string }).outcome);
    expect(outcomes.filter((outcome) => outcome === 'inserted')).toHaveLength(1);
    // Each container read the user at its own start: a later read finds the same values, an earlier one a newer state.
    expect(outcomes.filter((outcome) => outcome === 'exists')).toHaveLength(19);
  });
});
