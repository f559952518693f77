import { createServer, type Server, type Socket } from 'node:net';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PoolUser } from '../../../../lambdas/cognito/pool-user';
import { signUpMessageFor } from '../../../../lambdas/sync/sign-up-message';
import { SendTimeoutError, sqsSyncQueue, type SqsModule } from '../../../../lambdas/sync/sqs/sqs-sync-queue';
import { eraseMessageFor, upsertMessageFor } from '../../../../lambdas/sync/sync-message';
import { userFromAttributes } from '../../../../lambdas/users/user';
import { loadEvent } from '../../../support/lambda';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/user-sync';
const SUB = '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21';
const READ_AT = new Date('2026-12-01T10:00:00.000Z');

const poolUser: PoolUser = {
  cognitoUserId: SUB,
  email: 'jane.doe@example.com',
  displayName: 'Jane Doe',
  handle: 'janedoe',
  enabled: true,
  status: 'CONFIRMED',
  lastModified: '2026-11-30T09:00:00.000Z',
};

const regional = (sdk: SqsModule) =>
  new sdk.SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

describe('sqsSyncQueue with a mocked SQS', () => {
  let sqs: AwsClientStub<SQSClient>;
  beforeEach(() => {
    sqs = mockClient(SQSClient);
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  });
  afterEach(() => sqs.restore());

  it.each([
    ['a version-2 upsert', upsertMessageFor(poolUser, READ_AT, 'AdminUpdateUserAttributes')],
    ['a version-2 erase', eraseMessageFor(SUB, READ_AT, 'AdminDeleteUser')],
    [
      'a version-1 queued sign-up',
      signUpMessageFor(
        'PostConfirmation_ConfirmSignUp',
        loadEvent('confirm-sign-up'),
        userFromAttributes(loadEvent('confirm-sign-up').request.userAttributes),
      ),
    ],
  ])('sends %s as the JSON body of one message to the configured queue', async (_name, message) => {
    await sqsSyncQueue({ queueUrl: QUEUE_URL, createClient: regional }).send(message);
    const calls = sqs.commandCalls(SendMessageCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
    expect(JSON.parse(calls[0]?.args[0].input.MessageBody ?? '')).toEqual(message);
  });

  it('creates its client on the first send and reuses it afterwards', async () => {
    const createClient = vi.fn(regional);
    const queue = sqsSyncQueue({ queueUrl: QUEUE_URL, createClient });
    expect(createClient).not.toHaveBeenCalled();
    for (let i = 0; i < 3; i += 1) await queue.send(eraseMessageFor(SUB, READ_AT, 'DeleteUser'));
    expect(createClient).toHaveBeenCalledTimes(1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(3);
  });

  it('rejects with the SDK error when SQS refuses the message', async () => {
    sqs.on(SendMessageCommand).rejects(Object.assign(new Error('KMS key disabled'), { name: 'KmsDisabled' }));
    const queue = sqsSyncQueue({ queueUrl: QUEUE_URL, createClient: regional });
    await expect(queue.send(eraseMessageFor(SUB, READ_AT, 'DeleteUser'))).rejects.toMatchObject({
      name: 'KmsDisabled',
    });
  });

  it('refuses to send when too little of the budget is left, without creating a client', async () => {
    const createClient = vi.fn(regional);
    const queue = sqsSyncQueue({ queueUrl: QUEUE_URL, createClient });
    await expect(queue.send(eraseMessageFor(SUB, READ_AT, 'DeleteUser'), { timeoutMs: 20 })).rejects.toBeInstanceOf(
      SendTimeoutError,
    );
    expect(createClient).not.toHaveBeenCalled();
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});

describe('sqsSyncQueue defaults', () => {
  it.each([
    [undefined, 3],
    [5, 5],
  ])(
    'builds its own client when none is given, with maxAttempts %s giving %i attempts',
    async (maxAttempts, attempts) => {
      vi.stubEnv('AWS_REGION', 'us-east-1');
      let built: SQSClient | undefined;
      const sqs = mockClient(SQSClient);
      sqs.on(SendMessageCommand).callsFake((_input, getClient: () => SQSClient) => {
        built = getClient();
        return { MessageId: 'm-1' };
      });
      try {
        await sqsSyncQueue({ queueUrl: QUEUE_URL, ...(maxAttempts ? { maxAttempts } : {}) }).send(
          eraseMessageFor(SUB, READ_AT, 'DeleteUser'),
        );
        expect(built).toBeInstanceOf(SQSClient);
        expect(await built?.config.maxAttempts()).toBe(attempts);
      } finally {
        sqs.restore();
        vi.unstubAllEnvs();
      }
    },
  );
});

describe('sqsSyncQueue against an endpoint that never answers', () => {
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
    const queue = sqsSyncQueue({
      queueUrl: `http://127.0.0.1:${port}/123456789012/user-sync`,
      createClient: (sdk) =>
        new sdk.SQSClient({
          region: 'us-east-1',
          endpoint: `http://127.0.0.1:${port}`,
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        }),
    });
    const started = Date.now();
    const error = await queue
      .send(eraseMessageFor(SUB, READ_AT, 'DeleteUser'), { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toMatch(/Abort|Timeout/);
    // Sanity bound only: without the abort signal the SDK would wait for minutes.
    expect(Date.now() - started).toBeLessThan(4500);
    expect(sockets.length).toBeGreaterThan(0);
  });
});
