// The fallback queue: a confirmed sign-up the database could not take in time is parked in SQS and replayed
// later by the replay function. Holds the message format (the one contract between the two functions) and
// the SQS adapter. The AWS SDK is imported lazily, so a cold start that never needs the queue never pays for it.
import type { SQSClient } from '@aws-sdk/client-sqs';
import { ConfigurationError, InvalidEventError } from './errors';
import { userFromAttributes, type NewUser } from './users';

export const REPLAY_MESSAGE_VERSION = 1;

/**
 * What a replay needs and nothing more. It is personal data at rest (email, name, handle): the queue is
 * encrypted, and nothing else from the Cognito event (client metadata, other attributes) is kept.
 */
export interface ReplayMessage {
  readonly version: typeof REPLAY_MESSAGE_VERSION;
  readonly triggerSource: string;
  readonly userPoolId?: string;
  readonly userName?: string;
  readonly userAttributes: {
    readonly sub: string;
    readonly email?: string;
    readonly name?: string;
    readonly preferred_username?: string;
  };
}

/** The port the post-confirmation core uses; the SQS adapter below is one implementation. */
export interface FallbackQueue {
  enqueue(message: ReplayMessage): Promise<void>;
}

// Cognito's own shapes: a pool id is `<region>_<id>`, a user name at most 128 characters.
const USER_POOL_ID_PATTERN = /^[\w-]+_[0-9a-zA-Z]+$/;
const MAX_USER_NAME_LENGTH = 128;

function optionalText(value: unknown, valid: (text: string) => boolean): string | undefined {
  return typeof value === 'string' && value !== '' && valid(value) ? value : undefined;
}

/** Builds the message from a validated user, so only checked values ever reach the queue. */
export function replayMessageFor(triggerSource: string, event: Record<string, unknown>, user: NewUser): ReplayMessage {
  const userPoolId = optionalText(event.userPoolId, (id) => id.length <= 55 && USER_POOL_ID_PATTERN.test(id));
  const userName = optionalText(event.userName, (name) => name.length <= MAX_USER_NAME_LENGTH && name.isWellFormed() && !name.includes('\u0000'));
  return {
    version: REPLAY_MESSAGE_VERSION,
    triggerSource,
    ...(userPoolId ? { userPoolId } : {}),
    ...(userName ? { userName } : {}),
    userAttributes: {
      sub: user.cognitoUserId,
      ...(user.email !== null ? { email: user.email } : {}),
      ...(user.displayName !== null ? { name: user.displayName } : {}),
      ...(user.handle !== null ? { preferred_username: user.handle } : {}),
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses an SQS message body back into a user. The body crossed a trust boundary (anyone with send
 * permission could have written it), so it is validated exactly like a Cognito event.
 */
export function parseReplayMessage(body: unknown, expectedTriggerSource: string): NewUser {
  if (typeof body !== 'string') throw new InvalidEventError('body', 'must be a string');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new InvalidEventError('body', 'is not JSON');
  }
  if (!isRecord(parsed)) throw new InvalidEventError('body', 'must be a JSON object');
  if (parsed.version !== REPLAY_MESSAGE_VERSION) throw new InvalidEventError('body.version', `must be ${REPLAY_MESSAGE_VERSION}`);
  if (parsed.triggerSource !== expectedTriggerSource) {
    throw new InvalidEventError('body.triggerSource', `must be ${expectedTriggerSource}`);
  }
  return userFromAttributes(parsed.userAttributes, 'body.userAttributes');
}

export interface SqsFallbackQueueOptions {
  readonly queueUrl: string;
  /** Time allowed for a send when the caller gives none. @default 2000 */
  readonly defaultTimeoutMs?: number;
  /** SDK attempts per send, the first included. Small: the budget is what really bounds the send. @default 2 */
  readonly maxAttempts?: number;
  /** Builds the client (tests pass a region and credentials); called once, on the first send. */
  readonly createClient?: (sdk: typeof import('@aws-sdk/client-sqs')) => SQSClient;
}

/** The queue has no time left to be worth trying: a send that cannot finish before Cognito gives up. */
export class FallbackTimeoutError extends Error {
  override readonly name = 'FallbackTimeoutError';
}

/** Smallest send timeout worth attempting; below it Cognito will have given up before SQS answers. */
export const MIN_SEND_TIMEOUT_MS = 100;

export interface SendOptions {
  /** Time left for this send: the post-confirmation function passes what the database attempt left of Cognito's budget. */
  readonly timeoutMs?: number;
}

export interface SqsFallbackQueue {
  enqueue(message: ReplayMessage, options?: SendOptions): Promise<void>;
}

/** SendMessage adapter: one client per container, created on the first send, each send bounded in time. */
export function sqsFallbackQueue(options: SqsFallbackQueueOptions): SqsFallbackQueue {
  let client: Promise<{ client: SQSClient; SendMessageCommand: typeof import('@aws-sdk/client-sqs').SendMessageCommand }> | undefined;
  const maxAttempts = options.maxAttempts ?? 2;
  const load = () => {
    client ??= import('@aws-sdk/client-sqs').then((sdk) => ({
      client:
        options.createClient?.(sdk) ??
        // Connection timeout bounds a TCP connect to the VPC endpoint; the per-send abort signal bounds the rest.
        new sdk.SQSClient({ maxAttempts, requestHandler: { connectionTimeout: 1000 } }),
      SendMessageCommand: sdk.SendMessageCommand,
    }));
    // A failed import must not be cached for the life of the container.
    client.catch(() => {
      client = undefined;
    });
    return client;
  };
  return {
    async enqueue(message, send = {}) {
      const timeoutMs = send.timeoutMs ?? options.defaultTimeoutMs ?? 2000;
      if (timeoutMs < MIN_SEND_TIMEOUT_MS) throw new FallbackTimeoutError('No time left in the budget to queue the event');
      const signal = AbortSignal.timeout(timeoutMs);
      const { client: sqs, SendMessageCommand } = await load();
      await sqs.send(new SendMessageCommand({ QueueUrl: options.queueUrl, MessageBody: JSON.stringify(message) }), {
        abortSignal: signal,
      });
    },
  };
}

type Env = Readonly<Record<string, string | undefined>>;

/** `FALLBACK_QUEUE_URL` when set (in AWS), checked on cold start; absent means no fallback (local stack). */
export function fallbackQueueUrlFromEnv(env: Env = process.env): string | undefined {
  const url = env.FALLBACK_QUEUE_URL;
  if (url === undefined || url.trim() === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError('FALLBACK_QUEUE_URL', 'is not a valid URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ConfigurationError('FALLBACK_QUEUE_URL', 'is not an http(s) URL');
  }
  return url;
}
