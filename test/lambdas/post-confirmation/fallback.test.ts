// The handler as deployed: FALLBACK_QUEUE_URL set, the real SQS adapter with SQS mocked, a real PostgreSQL
// that the tests stop and lock.
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, type PostConfirmationHandler } from '../../../lambdas/post-confirmation/handler';
import { createHandler as createReplayHandler, type WriterHandler } from '../../../lambdas/replay/handler';
import { InvalidEventError } from '../../../lambdas/runtime/errors';
import { DatabaseUnavailableError } from '../../../lambdas/postgres/errors';
import { fakeContext, signUpEvent } from '../../support/lambda';
import { startMigratedServer, type TestServer } from '../../support/postgres';
import { captureLogLines } from '../../support/output';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/signup-fallback';

let server: TestServer;
let url: string;
let handler: PostConfirmationHandler;
let replay: WriterHandler;
let sqs: AwsClientStub<SQSClient>;
let logLines: string[];
const sessions: Client[] = [];

function sub(n: number): string {
  return `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
}

async function session(): Promise<Client> {
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  sessions.push(client);
  return client;
}

async function countRows(cognitoUserId: string): Promise<number> {
  const { rows } = await (
    await session()
  ).query<{ n: number }>('SELECT count(*)::int AS n FROM public.users WHERE cognito_user_id = $1', [cognitoUserId]);
  return rows[0]?.n ?? -1;
}

function entries(): Record<string, unknown>[] {
  return logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  ({ server, url } = await startMigratedServer());
  handler = createHandler({ database: { connectionUrl: url }, fallbackQueueUrl: QUEUE_URL });
  replay = createReplayHandler({ database: { connectionUrl: url } });
});

afterAll(async () => {
  await handler?.close();
  await replay?.close();
  await server?.destroy();
});

beforeEach(async () => {
  await server.start();
  await (await session()).query('TRUNCATE public.users CASCADE');
  sqs = mockClient(SQSClient);
  logLines = captureLogLines();
});

afterEach(async () => {
  sqs.restore();
  await Promise.all(sessions.splice(0).map((client) => client.end().catch(() => undefined)));
  for (const line of logLines) expect(line).not.toMatch(/@example\.com|Jane Doe|janedoe/);
});

describe('post-confirmation handler with the fallback queue', () => {
  it('writes to the database and sends nothing when the database answers', async () => {
    await handler(signUpEvent({ sub: sub(1) }), fakeContext());
    expect(await countRows(sub(1))).toBe(1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('sends the sign-up to the queue and returns the event when the server is stopped', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    await server.stop();
    const event = signUpEvent({ sub: sub(2) });
    await expect(handler(event, fakeContext())).resolves.toBe(event);

    const calls = sqs.commandCalls(SendMessageCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
    expect(JSON.parse(calls[0]?.args[0].input.MessageBody ?? '')).toMatchObject({
      version: 1,
      triggerSource: 'PostConfirmation_ConfirmSignUp',
      userAttributes: { sub: sub(2), email: 'jane.doe@example.com', name: 'Jane Doe', preferred_username: 'janedoe' },
    });
    expect(entries()).toContainEqual(
      expect.objectContaining({ outcome: 'queued', sub: sub(2), requestId: fakeContext().awsRequestId }),
    );

    // Replayed after the restart by the replay function: exactly one row.
    await server.start();
    const body = calls[0]?.args[0].input.MessageBody ?? '';
    const records = [1, 2].map((n) => ({ messageId: `m-${n}`, body, attributes: { ApproximateReceiveCount: '1' } }));
    await expect(replay({ Records: records } as unknown as SQSEvent)).resolves.toEqual({ batchItemFailures: [] });
    expect(await countRows(sub(2))).toBe(1);
  });

  it('throws DatabaseUnavailableError when the queue refuses the sign-up too', async () => {
    sqs.on(SendMessageCommand).rejects(Object.assign(new Error('endpoint down'), { name: 'ServiceUnavailable' }));
    await server.stop();
    await expect(handler(signUpEvent({ sub: sub(3) }), fakeContext())).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(entries()).toContainEqual(
      expect.objectContaining({ outcome: 'failed', sub: sub(3), queueErrorName: 'ServiceUnavailable' }),
    );
  });

  it('does not try the queue when Lambda has no time left, and throws', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    await server.stop();
    const context = fakeContext({ getRemainingTimeInMillis: () => 150 });
    await expect(handler(signUpEvent({ sub: sub(4) }), context)).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(entries()).toContainEqual(
      expect.objectContaining({ outcome: 'failed', queueErrorName: 'SendTimeoutError' }),
    );
  });

  it('queues the sign-up within Cognito budget when a lock hangs the statement', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    await handler(signUpEvent({ sub: sub(5) }), fakeContext());
    const holder = await session();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE');
    const started = Date.now();
    const event = signUpEvent({ sub: sub(6), preferred_username: 'locked' });
    await expect(handler(event, fakeContext())).resolves.toBe(event);
    // Cognito's contract (5 s, less time to answer), not a performance target.
    expect(Date.now() - started).toBeLessThan(4500);
    await holder.query('ROLLBACK');
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(await countRows(sub(6))).toBe(0);
  });

  it('never queues an invalid event', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    await server.stop();
    await expect(handler(signUpEvent({ sub: 'a\nb' }), fakeContext())).rejects.toBeInstanceOf(InvalidEventError);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('writes exactly one row when one event is delivered twenty times at once', async () => {
    const event = signUpEvent({ sub: sub(7) });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => handler(structuredClone(event), fakeContext())),
    );
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(await countRows(sub(7))).toBe(1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});
