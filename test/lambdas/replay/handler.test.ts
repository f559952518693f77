import { Client } from 'pg';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, type ReplayHandler } from '../../../lambdas/replay/handler';
import { InvalidEventError } from '../../../lambdas/runtime/errors';
import { startMigratedServer, type TestServer } from '../../support/postgres';
import { captureLogLines } from '../../support/output';

let server: TestServer;
let db: Client;
let replay: ReplayHandler;
let logLines: string[];

function sub(n: number): string {
  return `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
}

function body(n: number, attributes: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: 1,
    triggerSource: 'PostConfirmation_ConfirmSignUp',
    userPoolId: 'us-east-1_EXAMPLE1',
    userAttributes: { sub: sub(n), email: `replay${n}@example.com`, name: 'Jane Doe', preferred_username: `replayed${n}`, ...attributes },
  });
}

function record(messageId: string, messageBody: unknown, receiveCount = '1') {
  return { messageId, body: messageBody, attributes: { ApproximateReceiveCount: receiveCount }, eventSource: 'aws:sqs' };
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
  for (const line of logLines) expect(line).not.toMatch(/@example\.com|Jane Doe|replayed\d/);
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
    expect(logged).toContainEqual(expect.objectContaining({ messageId: 'a', sub: sub(1), outcome: 'inserted', receiveCount: 1, requestId: 'r-1' }));
  });

  it('writes one row when the same message arrives twice in a batch and again later', async () => {
    await handler({ Records: [record('a', body(3)), record('b', body(3))] });
    await handler({ Records: [record('c', body(3), '2')] });
    expect(await rows()).toHaveLength(1);
  });

  it('writes one row when twenty deliveries of one message run at once', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => handler({ Records: [record(`m-${i}`, body(4))] })));
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
    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(['not-json', 'bad-sub', 'bad-version', 'not-a-string']);
    expect((await rows()).map((row) => row.cognito_user_id)).toEqual([sub(5), sub(8)]);
    const rejected = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.outcome === 'rejected');
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
    const retried = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.outcome === 'retry');
    // The first record found the database down; the rest were not tried against it again.
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ errorName: 'DatabaseUnavailableError', messageId: 'a' });

    await server.start();
    db = new Client({ connectionString: server.url() });
    db.on('error', () => undefined);
    await db.connect();
    await expect(handler({ Records: [record('a', body(12), '2'), record('b', body(13), '2'), record('c', body(14), '2')] })).resolves.toEqual({
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
