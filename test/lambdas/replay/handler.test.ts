import { Client } from 'pg';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, type WriterHandler } from '../../../lambdas/replay/handler';
import type { PoolUser } from '../../../lambdas/cognito/pool-user';
import { InvalidEventError } from '../../../lambdas/runtime/errors';
import { createLogger } from '../../../lambdas/runtime/logger';
import { eraseMessageFor, upsertMessageFor } from '../../../lambdas/sync/sync-message';
import { startMigratedServer, type TestServer } from '../../support/postgres';
import { captureLogLines } from '../../support/output';

let server: TestServer;
let db: Client;
let replay: WriterHandler;
let logLines: string[];

function sub(n: number): string {
  return `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
}

function body(n: number, attributes: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: 1,
    triggerSource: 'PostConfirmation_ConfirmSignUp',
    userPoolId: 'us-east-1_EXAMPLE1',
    userAttributes: {
      sub: sub(n),
      email: `replay${n}@example.com`,
      name: 'Jane Doe',
      preferred_username: `replayed${n}`,
      ...attributes,
    },
  });
}

function record(messageId: string, messageBody: unknown, receiveCount = '1', sentAt?: number) {
  const attributes = {
    ApproximateReceiveCount: receiveCount,
    ...(sentAt === undefined ? {} : { SentTimestamp: String(sentAt) }),
  };
  return { messageId, body: messageBody, attributes, eventSource: 'aws:sqs' };
}

/** A fixed clock: minute n after 10:00 on the day the tests pretend it is. */
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

function upsert(n: number, minute: number, fields: Partial<PoolUser> = {}): string {
  return JSON.stringify(upsertMessageFor(poolUser(n, fields), at(minute), 'AdminUpdateUserAttributes'));
}

function erase(n: number, minute: number): string {
  return JSON.stringify(eraseMessageFor(sub(n), at(minute), 'AdminDeleteUser'));
}

async function stored(n: number) {
  const result = await db.query(
    'SELECT email, display_name, handle, enabled, synced_at, deleted_at FROM public.users WHERE cognito_user_id = $1',
    [sub(n)],
  );
  return result.rows[0] as
    | {
        email: string | null;
        display_name: string | null;
        handle: string | null;
        enabled: boolean;
        synced_at: Date;
        deleted_at: Date | null;
      }
    | undefined;
}

function logged(): Record<string, unknown>[] {
  return logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function rows() {
  const result = await db.query('SELECT cognito_user_id, email, handle FROM public.users ORDER BY cognito_user_id');
  return result.rows as { cognito_user_id: string; email: string | null; handle: string | null }[];
}

beforeAll(async () => {
  const started = await startMigratedServer();
  server = started.server;
  db = new Client({ connectionString: started.url });
  db.on('error', () => undefined);
  await db.connect();
  replay = createHandler({ database: { connectionUrl: started.url } });
});

/** The handler with an event that, like a hostile sender's, need not be a well-formed SQSEvent. */
function handler(event: unknown, context?: { awsRequestId: string }) {
  return replay(event as SQSEvent, context);
}

afterAll(async () => {
  await replay?.close();
  await db?.end().catch(() => undefined);
  await server?.destroy();
});

beforeEach(async () => {
  await db.query('TRUNCATE public.users CASCADE');
  logLines = captureLogLines();
});

afterEach(() => {
  for (const line of logLines) expect(line).not.toMatch(/@example\.com|Jane Doe|replayed\d|pooled\d/);
});

describe('replay handler', () => {
  it('writes every queued sign-up and reports no failures', async () => {
    const result = await handler({ Records: [record('a', body(1)), record('b', body(2))] }, { awsRequestId: 'r-1' });
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await rows()).toEqual([
      { cognito_user_id: sub(1), email: 'replay1@example.com', handle: 'replayed1' },
      { cognito_user_id: sub(2), email: 'replay2@example.com', handle: 'replayed2' },
    ]);
    const logged = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toContainEqual(
      expect.objectContaining({ messageId: 'a', sub: sub(1), outcome: 'inserted', receiveCount: 1, requestId: 'r-1' }),
    );
  });

  it('writes one row when the same message arrives twice in a batch and again later', async () => {
    await handler({ Records: [record('a', body(3)), record('b', body(3))] });
    await handler({ Records: [record('c', body(3), '2')] });
    expect(await rows()).toHaveLength(1);
  });

  it('writes one row when twenty deliveries of one message run at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => handler({ Records: [record(`m-${i}`, body(4))] })),
    );
    expect(results.every((result) => result.batchItemFailures.length === 0)).toBe(true);
    expect(await rows()).toHaveLength(1);
  });

  it('fails only the malformed records, logging the field and never the body', async () => {
    const records = [
      record('good', body(5)),
      record('not-json', '{"version":1, "userAttributes": {"email": "leak@example.com"'),
      record('bad-sub', body(6, { sub: 'x\ny' })),
      record('bad-version', JSON.stringify({ ...JSON.parse(body(7)), version: 99 })),
      record('not-a-string', 12),
      record('good-too', body(8)),
    ];
    const result = await handler({ Records: records });
    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual([
      'not-json',
      'bad-sub',
      'bad-version',
      'not-a-string',
    ]);
    expect((await rows()).map((row) => row.cognito_user_id)).toEqual([sub(5), sub(8)]);
    const rejected = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.outcome === 'rejected');
    expect(rejected.map((entry) => [entry.messageId, entry.field])).toEqual([
      ['not-json', 'body'],
      ['bad-sub', 'body.userAttributes.sub'],
      ['bad-version', 'body.version'],
      ['not-a-string', 'body'],
    ]);
    expect(logLines.join('')).not.toContain('leak');
  });

  it('keeps a user whose handle is taken, with the suffixed handle the trigger would give', async () => {
    await handler({ Records: [record('a', body(9, { preferred_username: 'same' }))] });
    await handler({ Records: [record('b', body(10, { preferred_username: 'SAME' }))] });
    expect((await rows()).map((row) => row.handle)).toEqual(['same', 'SAME_00000000']);
  });

  it('returns every record for redelivery when the database is down, and writes them after it is back', async () => {
    await handler({ Records: [record('warm', body(11))] });
    await server.stop();
    const result = await handler({ Records: [record('a', body(12)), record('b', body(13)), record('c', body(14))] });
    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(['a', 'b', 'c']);
    const retried = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.outcome === 'retry');
    // The first record found the database down; the rest were not tried against it again.
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ errorName: 'DatabaseUnavailableError', messageId: 'a' });

    await server.start();
    db = new Client({ connectionString: server.url() });
    db.on('error', () => undefined);
    await db.connect();
    await expect(
      handler({ Records: [record('a', body(12), '2'), record('b', body(13), '2'), record('c', body(14), '2')] }),
    ).resolves.toEqual({
      batchItemFailures: [],
    });
    expect(await rows()).toHaveLength(4);
  });

  it('fails the whole batch when a record has no message id, so nothing is acknowledged by mistake', async () => {
    const error = await handler({ Records: [{ body: body(15) }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error).toMatchObject({ field: 'Records[].messageId' });
  });

  it('returns no failures for an event without records', async () => {
    await expect(handler({})).resolves.toEqual({ batchItemFailures: [] });
  });
});

describe('version-1 sign-ups', () => {
  it('orders a queued sign-up by the time SQS received it', async () => {
    await handler({ Records: [record('a', body(20), '1', at(5).getTime())] });
    expect((await stored(20))?.synced_at).toEqual(at(5));
  });

  it('orders one without a SentTimestamp by the time it is replayed', async () => {
    const replayAt = createHandler({ database: { connectionUrl: server.url() } }, { clock: () => at(7).getTime() });
    try {
      await replayAt({ Records: [record('a', body(21))] } as SQSEvent);
    } finally {
      await replayAt.close();
    }
    expect((await stored(21))?.synced_at).toEqual(at(7));
  });

  it('never brings back a user erased after the sign-up was queued', async () => {
    await handler({ Records: [record('a', erase(22, 10)), record('b', body(22), '1', at(1).getTime())] });
    expect(await stored(22)).toBeUndefined();
    expect(logged()).toContainEqual(expect.objectContaining({ messageId: 'b', sub: sub(22), outcome: 'erased' }));
  });

  it('does not roll back a newer state with a sign-up queued before it', async () => {
    await handler({ Records: [record('a', upsert(23, 10, { email: 'newer@example.com' }))] });
    await handler({ Records: [record('b', body(23), '1', at(1).getTime())] });
    expect(await stored(23)).toMatchObject({ email: 'newer@example.com', synced_at: at(10) });
  });

  it('stores a queued sign-up whose handle is outside the rule with no handle', async () => {
    await handler({ Records: [record('a', body(24, { preferred_username: 'not a handle' }))] });
    expect((await stored(24))?.handle).toBeNull();
    expect(logged()).toContainEqual(
      expect.objectContaining({ sub: sub(24), outcome: 'inserted', handleRefused: true }),
    );
  });
});

describe('version-2 sync messages', () => {
  it('inserts a user the pool holds and the table does not (an admin-created user)', async () => {
    const result = await handler({ Records: [record('a', upsert(30, 1, { status: 'FORCE_CHANGE_PASSWORD' }))] });
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await stored(30)).toMatchObject({
      email: 'user30@example.com',
      handle: 'pooled30',
      enabled: true,
      synced_at: at(1),
    });
  });

  it('follows the pool: a new email and name, a disable, an enable', async () => {
    await handler({ Records: [record('a', upsert(31, 1))] });
    await handler({ Records: [record('b', upsert(31, 2, { email: 'changed@example.com', displayName: 'Jane Q' }))] });
    expect(await stored(31)).toMatchObject({ email: 'changed@example.com', display_name: 'Jane Q', enabled: true });
    await handler({
      Records: [record('c', upsert(31, 3, { email: 'changed@example.com', displayName: 'Jane Q', enabled: false }))],
    });
    expect((await stored(31))?.enabled).toBe(false);
    await handler({
      Records: [record('d', upsert(31, 4, { email: 'changed@example.com', displayName: 'Jane Q', enabled: true }))],
    });
    expect((await stored(31))?.enabled).toBe(true);
  });

  it('never lets a stale upsert roll back a newer email, in one batch or across batches', async () => {
    await handler({
      Records: [
        record('new', upsert(32, 5, { email: 'newer@example.com' })),
        record('old', upsert(32, 2, { email: 'older@example.com' })),
      ],
    });
    await handler({ Records: [record('older', upsert(32, 1, { email: 'oldest@example.com' }))] });
    expect(await stored(32)).toMatchObject({ email: 'newer@example.com', synced_at: at(5) });
    const outcomes = logged()
      .filter((entry) => entry.sub === sub(32))
      .map((entry) => [entry.messageId, entry.outcome]);
    expect(outcomes).toEqual([
      ['new', 'inserted'],
      ['old', 'stale'],
      ['older', 'stale'],
    ]);
  });

  it('converges on one row when the same upsert arrives three times', async () => {
    const message = upsert(33, 1);
    await handler({ Records: [record('a', message), record('b', message)] });
    await handler({ Records: [record('c', message, '2')] });
    const { rows } = await db.query('SELECT count(*)::int AS n FROM public.users WHERE cognito_user_id = $1', [
      sub(33),
    ]);
    expect(rows).toEqual([{ n: 1 }]);
    expect(
      logged()
        .filter((entry) => entry.sub === sub(33))
        .map((entry) => entry.outcome),
    ).toEqual(['inserted', 'unchanged', 'unchanged']);
  });

  it('never resurrects an erased user with an upsert read before or after the erasure', async () => {
    await handler({
      Records: [
        record('a', upsert(34, 1)),
        record('b', erase(34, 2)),
        record('c', upsert(34, 1)),
        record('d', upsert(34, 9)),
      ],
    });
    expect(await stored(34)).toBeUndefined();
    expect(
      logged()
        .filter((entry) => entry.sub === sub(34))
        .map((entry) => entry.outcome),
    ).toEqual(['inserted', 'erased', 'erased', 'erased']);
  });

  it('erases a user, with their activities, by the delete policy; a second erase changes nothing', async () => {
    await handler({ Records: [record('a', upsert(35, 1))] });
    await db.query(
      "INSERT INTO public.activities (user_uuid, message) SELECT uuid, 'hello' FROM public.users WHERE cognito_user_id = $1",
      [sub(35)],
    );
    await handler({ Records: [record('b', erase(35, 2)), record('c', erase(35, 3))] });
    expect(await stored(35)).toBeUndefined();
    expect((await db.query('SELECT count(*)::int AS n FROM public.activities')).rows).toEqual([{ n: 0 }]);
    expect(
      logged()
        .filter((entry) => entry.sub === sub(35))
        .map((entry) => [entry.outcome, entry.policy]),
    ).toEqual([
      ['inserted', undefined],
      ['erased', 'delete'],
      ['already_erased', 'delete'],
    ]);
  });

  it('keeps the row without personal data by the anonymize policy', async () => {
    const anonymizing = createHandler({ database: { connectionUrl: server.url() }, erasurePolicy: 'anonymize' });
    try {
      await anonymizing({ Records: [record('a', upsert(36, 1)), record('b', erase(36, 2))] } as SQSEvent);
    } finally {
      await anonymizing.close();
    }
    // The kept row carries no sub any more: found among the anonymized rows, not by the sub.
    expect(await stored(36)).toBeUndefined();
    const { rows: kept } = await db.query(
      'SELECT email, display_name, handle, enabled FROM public.users WHERE deleted_at IS NOT NULL',
    );
    expect(kept).toEqual([{ email: null, display_name: null, handle: null, enabled: false }]);
  });

  it('writes nothing for a user who is not confirmed yet, and acknowledges the record', async () => {
    const result = await handler({ Records: [record('a', upsert(37, 1, { status: 'UNCONFIRMED' }))] });
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await stored(37)).toBeUndefined();
    expect(logged()).toContainEqual(
      expect.objectContaining({ sub: sub(37), outcome: 'skipped', status: 'UNCONFIRMED' }),
    );
  });

  it('keeps the old handle when the pool asks for one another user holds', async () => {
    await handler({
      Records: [record('a', upsert(38, 1, { handle: 'taken_one' })), record('b', upsert(39, 1, { handle: 'mine' }))],
    });
    await handler({ Records: [record('c', upsert(39, 2, { handle: 'TAKEN_ONE' }))] });
    expect((await stored(39))?.handle).toBe('mine');
    expect(logged()).toContainEqual(
      expect.objectContaining({ messageId: 'c', sub: sub(39), outcome: 'updated_handle_conflict' }),
    );
  });

  it('refuses a message that is neither version, naming the field', async () => {
    const result = await handler({ Records: [record('a', JSON.stringify({ version: 3, sub: sub(40) }))] });
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'a' }]);
    expect(logged()).toContainEqual(
      expect.objectContaining({ messageId: 'a', outcome: 'rejected', field: 'body.version' }),
    );
  });
});

describe('a user the database refuses', () => {
  beforeEach(async () => {
    await db.query(
      "ALTER TABLE public.users ADD CONSTRAINT refuse_one CHECK (email IS DISTINCT FROM 'refused@example.com')",
    );
  });

  afterEach(async () => {
    await db.query('ALTER TABLE public.users DROP CONSTRAINT IF EXISTS refuse_one');
  });

  it('is logged at ERROR by sub with the SQLSTATE, counted, acknowledged, and costs nobody else', async () => {
    const result = await handler({
      Records: [
        record('v2', upsert(50, 1, { email: 'refused@example.com' })),
        record('v1', body(51, { email: 'refused@example.com' })),
        record('good', upsert(52, 1)),
      ],
    });
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await stored(50)).toBeUndefined();
    expect(await stored(51)).toBeUndefined();
    expect(await stored(52)).toBeDefined();
    const refused = logged().filter((entry) => entry.outcome === 'refused');
    expect(refused).toEqual([
      expect.objectContaining({ level: 'ERROR', messageId: 'v2', sub: sub(50), errorCode: '23514' }),
      expect.objectContaining({
        level: 'ERROR',
        messageId: 'v1',
        sub: sub(51),
        errorCode: '23514',
        constraint: 'refuse_one',
      }),
    ]);
    expect(logged()).toContainEqual(
      expect.objectContaining({
        message: 'batch written',
        records: 3,
        applied: 1,
        refused: 2,
        rejected: 0,
        retried: 0,
      }),
    );
  });
});

describe('the one writer when the database cannot take the batch', () => {
  async function replayWith(connectionUrl: string): Promise<{ failed: string[]; entries: Record<string, unknown>[] }> {
    const logs: string[] = [];
    const writer = createHandler(
      { database: { connectionUrl } },
      { logger: createLogger({}, (line) => logs.push(line)) },
    );
    try {
      const result = await writer({
        Records: [record('a', upsert(60, 1)), record('b', erase(61, 1)), record('c', body(62))],
      } as SQSEvent);
      return {
        failed: result.batchItemFailures.map((failure) => failure.itemIdentifier),
        entries: logs.map((line) => JSON.parse(line) as Record<string, unknown>),
      };
    } finally {
      await writer.close();
    }
  }

  it('returns a sync message and the untried rest for redelivery, at WARN, while the server is down', async () => {
    const { failed, entries } = await replayWith('postgres://nobody:nothing@127.0.0.1:9/none');
    expect(failed).toEqual(['a', 'b', 'c']);
    expect(entries.filter((entry) => entry.outcome === 'retry')).toEqual([
      expect.objectContaining({
        level: 'WARN',
        messageId: 'a',
        errorName: 'DatabaseUnavailableError',
        failureClass: 'transient',
      }),
    ]);
  });

  it('says at ERROR that the deploy is broken when the login is refused, and still keeps every record', async () => {
    const { failed, entries } = await replayWith(`postgres://not_a_role:wrong@127.0.0.1:${server.port}/postgres`);
    expect(failed).toEqual(['a', 'b', 'c']);
    expect(entries.filter((entry) => entry.outcome === 'retry')).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        messageId: 'a',
        errorName: 'DatabaseUnavailableError',
        failureClass: 'permanent',
        errorClass: 'login-refused',
      }),
    ]);
  });
});
