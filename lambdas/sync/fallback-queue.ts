// The port the post-confirmation use case parks a sign-up in when the database cannot take it;
// sqs/sqs-fallback-queue.ts is the adapter.
import type { ReplayMessage } from './replay-message';

export interface EnqueueOptions {
  /** Time left for this send: the post-confirmation function passes what the database attempt left of Cognito's budget. */
  readonly timeoutMs?: number;
}

export interface FallbackQueue {
  enqueue(message: ReplayMessage, options?: EnqueueOptions): Promise<void>;
}
