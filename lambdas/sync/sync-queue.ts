// The port every producer of the sync queue sends through, one message at a time: a queued sign-up
// (version 1, sign-up-message.ts) or a sync message (version 2, sync-message.ts). sqs/sqs-sync-queue.ts is
// the adapter; the one writer (lambdas/replay) reads the queue.
import type { SignUpMessage } from './sign-up-message';
import type { SyncMessage } from './sync-message';

/** Any message the writer reads: it tells the versions apart by `version`. */
export type QueueMessage = SignUpMessage | SyncMessage;

export interface SendOptions {
  /**
   * Time allowed for this send, in milliseconds; the adapter's default when omitted. The post-confirmation
   * function passes what the database attempt left of Cognito's budget.
   */
  readonly timeoutMs?: number;
}

export interface SyncQueue {
  send(message: QueueMessage, options?: SendOptions): Promise<void>;
}
