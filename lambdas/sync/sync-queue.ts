// The port every producer of the one writer's queue sends through: a version-1 queued sign-up or a version-2
// sync message, one at a time. sqs/sqs-sync-queue.ts is the adapter.
import type { ReplayMessage } from './replay-message';
import type { SyncMessage } from './sync-message';

/** Any message the replay function reads: it tells the versions apart by `version`. */
export type QueueMessage = ReplayMessage | SyncMessage;

export interface SendOptions {
  /** Time allowed for this send, in milliseconds; the adapter's default when omitted. */
  readonly timeoutMs?: number;
}

export interface SyncQueue {
  send(message: QueueMessage, options?: SendOptions): Promise<void>;
}
