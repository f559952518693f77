import { createServer, type Server, type Socket } from 'node:net';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, InvalidEventError } from '../../../lambdas/shared/errors';
import {
  fallbackQueueUrlFromEnv,
  FallbackTimeoutError,
  parseReplayMessage,
  replayMessageFor,
  sqsFallbackQueue,
  type ReplayMessage,
} from '../../../lambdas/shared/queue';
import { userFromAttributes } from '../../../lambdas/shared/users';
import { loadEvent } from '../../support/lambda';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/signup-fallback';
const TRIGGER = 'PostConfirmation_ConfirmSignUp';

function messageFromFixture(): ReplayMessage {
  const event = loadEvent('confirm-sign-up');
  return replayMessageFor(TRIGGER, event, userFromAttributes(event.request.userAttributes));
}

describe('replayMessageFor', () => {
  it('keeps only what a replay needs from the event', () => {
    const event = { ...loadEvent('confirm-sign-up'), callerContext: { clientId: 'abc' } };
    event.request.clientMetadata = { secret: 'not for the queue' };
    expect(replayMessageFor(TRIGGER, event, userFromAttributes(event.request.userAttributes))).toEqual({
      version: 1,
      triggerSource: TRIGGER,
      userPoolId: 'us-east-1_EXAMPLE1',
      userName: '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21',
      userAttributes: {
        sub: '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21',
        email: 'jane.doe@example.com',
        name: 'Jane Doe',
        preferred_username: 'janedoe',
      },
    });
  });

  it('leaves out absent attributes and a malformed pool id or user name', () => {
    const event = { ...loadEvent('minimal-attributes'), userPoolId: 'not a pool id', userName: 'x'.repeat(129) };
    expect(replayMessageFor(TRIGGER, event, userFromAttributes(event.request.userAttributes))).toEqual({
      version: 1,
      triggerSource: TRIGGER,
      userAttributes: { sub: 'c7e1a2b3-4d5e-4f60-8a9b-0c1d2e3f4a5b' },
    });
  });
});

describe('parseReplayMessage', () => {
  it('reads back the user a message was made from', () => {
    const message = messageFromFixture();
    expect(parseReplayMessage(JSON.stringify(message), TRIGGER)).toEqual(userFromAttributes(loadEvent('confirm-sign-up').request.userAttributes));
  });

  const good = messageFromFixture();
  it.each([
    { name: 'a missing body', body: undefined, field: 'body' },
    { name: 'a body that is not JSON', body: '{"version":1,', field: 'body' },
    { name: 'a JSON array', body: '[]', field: 'body' },
    { name: 'JSON null', body: 'null', field: 'body' },
    { name: 'another version', body: JSON.stringify({ ...good, version: 2 }), field: 'body.version' },
    { name: 'another trigger source', body: JSON.stringify({ ...good, triggerSource: 'PostConfirmation_ConfirmForgotPassword' }), field: 'body.triggerSource' },
    { name: 'no attributes', body: JSON.stringify({ ...good, userAttributes: undefined }), field: 'body.userAttributes' },
    { name: 'a forged sub', body: JSON.stringify({ ...good, userAttributes: { sub: 'a\nb' } }), field: 'body.userAttributes.sub' },
    { name: 'a numeric email', body: JSON.stringify({ ...good, userAttributes: { ...good.userAttributes, email: 1 } }), field: 'body.userAttributes.email' },
  ])('refuses $name with an InvalidEventError naming $field', ({ body, field }) => {
    const error = (() => {
      try {
        parseReplayMessage(body, TRIGGER);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error).toMatchObject({ field });
  });
});

describe('sqsFallbackQueue with a mocked SQS', () => {
  let sqs: AwsClientStub<SQSClient>;
  beforeEach(() => {
    sqs = mockClient(SQSClient);
  });
  afterEach(() => sqs.restore());

  it('sends the message as JSON to the configured queue', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const message = messageFromFixture();
    await sqsFallbackQueue({ queueUrl: QUEUE_URL, createClient: (sdk) => new sdk.SQSClient({ region: 'us-east-1' }) }).enqueue(message);
    const calls = sqs.commandCalls(SendMessageCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
    expect(JSON.parse(calls[0]?.args[0].input.MessageBody ?? '')).toEqual(message);
  });

  it('creates its client on the first send and reuses it afterwards', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const createClient = vi.fn((sdk: typeof import('@aws-sdk/client-sqs')) => new sdk.SQSClient({ region: 'us-east-1' }));
    const queue = sqsFallbackQueue({ queueUrl: QUEUE_URL, createClient });
    expect(createClient).not.toHaveBeenCalled();
    for (let i = 0; i < 3; i += 1) await queue.enqueue(messageFromFixture());
    expect(createClient).toHaveBeenCalledTimes(1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(3);
  });

  it('rejects with the SDK error when SQS refuses the message', async () => {
    sqs.on(SendMessageCommand).rejects(Object.assign(new Error('KMS key disabled'), { name: 'KmsDisabled' }));
    const queue = sqsFallbackQueue({ queueUrl: QUEUE_URL, createClient: (sdk) => new sdk.SQSClient({ region: 'us-east-1' }) });
    await expect(queue.enqueue(messageFromFixture())).rejects.toMatchObject({ name: 'KmsDisabled' });
  });

  it('refuses to send when too little of the budget is left, without creating a client', async () => {
    const createClient = vi.fn((sdk: typeof import('@aws-sdk/client-sqs')) => new sdk.SQSClient({ region: 'us-east-1' }));
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

describe('fallbackQueueUrlFromEnv', () => {
  it('returns no queue when FALLBACK_QUEUE_URL is unset or empty', () => {
    expect(fallbackQueueUrlFromEnv({})).toBeUndefined();
    expect(fallbackQueueUrlFromEnv({ FALLBACK_QUEUE_URL: ' ' })).toBeUndefined();
  });

  it('returns the queue URL when it is an https URL', () => {
    expect(fallbackQueueUrlFromEnv({ FALLBACK_QUEUE_URL: QUEUE_URL })).toBe(QUEUE_URL);
  });

  it.each(['not a url', 'ftp://sqs.example/queue'])('refuses %s with a ConfigurationError naming the variable', (value) => {
    expect(() => fallbackQueueUrlFromEnv({ FALLBACK_QUEUE_URL: value })).toThrow(ConfigurationError);
    expect(() => fallbackQueueUrlFromEnv({ FALLBACK_QUEUE_URL: value })).toThrow(/FALLBACK_QUEUE_URL/);
  });
});
