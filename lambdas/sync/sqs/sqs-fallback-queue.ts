// The fallback queue in SQS: the post-confirmation function's view of the writer's queue (sqs-sync-queue.ts),
// with Cognito's budget in mind. The AWS SDK is imported lazily, so a cold start that never needs the queue
// never pays for it (and the post-confirmation bundle leaves the SDK to the runtime).
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FallbackQueue } from '../fallback-queue';
import { sqsSyncQueue } from './sqs-sync-queue';

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
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 2000;
  const queue = sqsSyncQueue({
    queueUrl: options.queueUrl,
    defaultTimeoutMs,
    maxAttempts: options.maxAttempts ?? 2,
    ...(options.createClient ? { createClient: options.createClient } : {}),
  });
  return {
    async enqueue(message, send = {}) {
      const timeoutMs = send.timeoutMs ?? defaultTimeoutMs;
      if (timeoutMs < MIN_SEND_TIMEOUT_MS)
        throw new FallbackTimeoutError('No time left in the budget to queue the event');
      await queue.send(message, { timeoutMs });
    },
  };
}
