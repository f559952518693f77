// Every message the sync queue carries, told apart by `version`: 1, a sign-up the post-confirmation trigger
// queued when the database could not take it; 2, a sync message from the user-events function (an upsert of the
// pool's state, or an erase).
import { CONFIRM_SIGN_UP } from '../cognito/trigger-event';
import { InvalidEventError } from '../runtime/errors';
import { parseMessageBody, SIGN_UP_MESSAGE_VERSION, signUpUserFrom } from '../sync/sign-up-message';
import { parseSyncMessage, SYNC_MESSAGE_VERSION, type SyncChange } from '../sync/sync-message';
import type { Now } from '../runtime/clock';
import type { NewUser } from '../users/user';

export type QueuedChange = { readonly kind: 'sign-up'; readonly user: NewUser; readonly readAt: Date } | SyncChange;

/**
 * Parses a record's body. A version-1 message carries no time of its own: `sentAt` (SQS's SentTimestamp,
 * moments after the trigger read the user) orders it, or `now` when SQS did not say.
 */
export function parseQueuedChange(body: unknown, sentAt: Date | undefined, now: Now): QueuedChange {
  const parsed = parseMessageBody(body);
  if (parsed.version === SIGN_UP_MESSAGE_VERSION) {
    return { kind: 'sign-up', user: signUpUserFrom(parsed, CONFIRM_SIGN_UP), readAt: sentAt ?? new Date(now()) };
  }
  if (parsed.version === SYNC_MESSAGE_VERSION) return parseSyncMessage(parsed);
  throw new InvalidEventError('body.version', `must be ${SIGN_UP_MESSAGE_VERSION} or ${SYNC_MESSAGE_VERSION}`);
}

/** SQS's SentTimestamp attribute (epoch milliseconds, as a string), when it is one. */
export function sentTimestamp(attributes: unknown): Date | undefined {
  const text = (attributes as { SentTimestamp?: unknown } | null | undefined)?.SentTimestamp;
  if (typeof text !== 'string' || !/^\d{1,15}$/.test(text)) return undefined;
  const date = new Date(Number(text));
  return Number.isFinite(date.getTime()) ? date : undefined;
}
