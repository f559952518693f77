// The fallback queue in SQS. The AWS SDK is imported lazily, so a cold start that never needs the queue never
// pays for it (and the post-confirmation bundle leaves the SDK to the runtime).
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FallbackQueue } from '../fallback-queue';

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

/** SendMessage adapter: one client per container, created on the first send, each send bounded in time. */
export function sqsFallbackQueue(options: SqsFallbackQueueOptions): FallbackQueue {
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
