// The sync queue in SQS: one client per container, created on the first send, every send bounded in time.
// The AWS SDK is imported lazily, so a cold start that never sends never loads it (and the bundles leave
// @aws-sdk/client-sqs to the Lambda runtime, see lib/bundling.ts).
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SyncQueue } from '../sync-queue';

export type SqsModule = typeof import('@aws-sdk/client-sqs');

export interface SqsSyncQueueOptions {
  readonly queueUrl: string;
  /** Time allowed for a send when the caller gives none. @default 5000 */
  readonly defaultTimeoutMs?: number;
  /** SDK attempts per send, the first included. @default 3 */
  readonly maxAttempts?: number;
  /** Bounds a TCP connect to SQS (or its VPC endpoint); the per-send abort signal bounds the rest. @default 1000 */
  readonly connectionTimeoutMs?: number;
  /** Builds the client (tests pass a region and credentials); called once, on the first send. */
  readonly createClient?: (sdk: SqsModule) => SQSClient;
}

/** The send has no time left to be worth trying: it could not finish before the caller's deadline. */
export class SendTimeoutError extends Error {
  override readonly name = 'SendTimeoutError';
}

/** Smallest send timeout worth attempting; below it Cognito will have given up before SQS answers. */
export const MIN_SEND_TIMEOUT_MS = 100;

/**
 * SendMessage adapter. No endpoint or region is passed on purpose: the SDK reads AWS_REGION, the credential
 * chain and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SQS itself. (The SQS client then sends to the host of the
 * queue URL when it differs from that endpoint, so the queue URL is what decides where a message goes.)
 */
export function sqsSyncQueue(options: SqsSyncQueueOptions): SyncQueue {
  let loaded: Promise<{ client: SQSClient; SendMessageCommand: SqsModule['SendMessageCommand'] }> | undefined;
  const load = () => {
    loaded ??= import('@aws-sdk/client-sqs').then((sdk) => ({
      client:
        options.createClient?.(sdk) ??
        new sdk.SQSClient({
          maxAttempts: options.maxAttempts ?? 3,
          requestHandler: { connectionTimeout: options.connectionTimeoutMs ?? 1000 },
        }),
      SendMessageCommand: sdk.SendMessageCommand,
    }));
    // A failed import must not be cached for the life of the container.
    loaded.catch(() => {
      loaded = undefined;
    });
    return loaded;
  };
  return {
    async send(message, send = {}) {
      const timeoutMs = send.timeoutMs ?? options.defaultTimeoutMs ?? 5000;
      if (timeoutMs < MIN_SEND_TIMEOUT_MS)
        throw new SendTimeoutError('No time left in the budget to queue the message');
      const signal = AbortSignal.timeout(timeoutMs);
      const { client, SendMessageCommand } = await load();
      await client.send(new SendMessageCommand({ QueueUrl: options.queueUrl, MessageBody: JSON.stringify(message) }), {
        abortSignal: signal,
      });
    },
  };
}
