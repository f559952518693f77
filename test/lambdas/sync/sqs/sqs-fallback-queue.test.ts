import { createServer, type Server, type Socket } from 'node:net';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { replayMessageFor, type ReplayMessage } from '../../../../lambdas/sync/replay-message';
import { FallbackTimeoutError, sqsFallbackQueue } from '../../../../lambdas/sync/sqs/sqs-fallback-queue';
import { userFromAttributes } from '../../../../lambdas/users/user';
import { loadEvent } from '../../../support/lambda';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/signup-fallback';

function messageFromFixture(): ReplayMessage {
  const event = loadEvent('confirm-sign-up');
  return replayMessageFor('PostConfirmation_ConfirmSignUp', event, userFromAttributes(event.request.userAttributes));
}

describe('sqsFallbackQueue with a mocked SQS', () => {
  let sqs: AwsClientStub<SQSClient>;
  beforeEach(() => {
    sqs = mockClient(SQSClient);
  });
  afterEach(() => sqs.restore());

  it('sends the message as JSON to the configured queue', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const message = messageFromFixture();
    await sqsFallbackQueue({
      queueUrl: QUEUE_URL,
      createClient: (sdk) => new sdk.SQSClient({ region: 'us-east-1' }),
    }).enqueue(message);
    const calls = sqs.commandCalls(SendMessageCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
    expect(JSON.parse(calls[0]?.args[0].input.MessageBody ?? '')).toEqual(message);
  });

  it('creates its client on the first send and reuses it afterwards', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const createClient = vi.fn(
      (sdk: typeof import('@aws-sdk/client-sqs')) => new sdk.SQSClient({ region: 'us-east-1' }),
    );
    const queue = sqsFallbackQueue({ queueUrl: QUEUE_URL, createClient });
    expect(createClient).not.toHaveBeenCalled();
    for (let i = 0; i < 3; i += 1) await queue.enqueue(messageFromFixture());
    expect(createClient).toHaveBeenCalledTimes(1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(3);
  });

  it('rejects with the SDK error when SQS refuses the message', async () => {
    sqs.on(SendMessageCommand).rejects(Object.assign(new Error('KMS key disabled'), { name: 'KmsDisabled' }));
    const queue = sqsFallbackQueue({
      queueUrl: QUEUE_URL,
      createClient: (sdk) => new sdk.SQSClient({ region: 'us-east-1' }),
    });
    await expect(queue.enqueue(messageFromFixture())).rejects.toMatchObject({ name: 'KmsDisabled' });
  });

  it('refuses to send when too little of the budget is left, without creating a client', async () => {
    const createClient = vi.fn(
      (sdk: typeof import('@aws-sdk/client-sqs')) => new sdk.SQSClient({ region: 'us-east-1' }),
    );
    const queue = sqsFallbackQueue({ queueUrl: QUEUE_URL, createClient });
    await expect(queue.enqueue(messageFromFixture(), { timeoutMs: 20 })).rejects.toBeInstanceOf(FallbackTimeoutError);
    expect(createClient).not.toHaveBeenCalled();
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});

describe('sqsFallbackQueue against an endpoint that never answers', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  it('gives up when the send timeout runs out', async () => {
    // A loopback listener that accepts and then says nothing: a black-holed endpoint.
    server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const queue = sqsFallbackQueue({
      queueUrl: `http://127.0.0.1:${port}/123456789012/signup-fallback`,
      createClient: (sdk) =>
        new sdk.SQSClient({
          region: 'us-east-1',
          endpoint: `http://127.0.0.1:${port}`,
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
          maxAttempts: 2,
        }),
    });
    const started = Date.now();
    const error = await queue.enqueue(messageFromFixture(), { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toMatch(/Abort|Timeout/);
    // Sanity bound only: without the abort signal the SDK would wait for minutes.
    expect(Date.now() - started).toBeLessThan(4500);
    expect(sockets.length).toBeGreaterThan(0);
  });
});
