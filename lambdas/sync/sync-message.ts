// Version 2 of the queue's messages: "this is the pool's state of user X, read at T" (upsert) or "user X no
// longer exists, found at T" (erase). The user-events function sends them; the one asynchronous writer
// (lambdas/replay) applies them, beside version 1 (a queued sign-up, sign-up-message.ts).
import { InvalidEventError } from '../runtime/errors';
import { isRecord } from '../runtime/records';
import { userFromAttributes } from '../users/user';
import { isSub } from '../cognito/sub';
import type { PoolUser } from '../cognito/pool-user';

export const SYNC_MESSAGE_VERSION = 2;

/** What a message may say it was caused by: a CloudTrail event name (for the logs), or the reconcile. */
const SOURCE_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const STATUS_PATTERN = /^[A-Z_]{1,32}$/;

export interface UpsertMessage {
  readonly version: typeof SYNC_MESSAGE_VERSION;
  readonly kind: 'upsert';
  readonly sub: string;
  /** When the state was read from the pool (ISO 8601): the order key, a later read is never older. */
  readonly readAt: string;
  readonly source: string;
  readonly user: {
    readonly email?: string;
    readonly name?: string;
    readonly preferred_username?: string;
    readonly enabled: boolean;
    readonly status: string;
    readonly lastModified?: string;
  };
}

export interface EraseMessage {
  readonly version: typeof SYNC_MESSAGE_VERSION;
  readonly kind: 'erase';
  readonly sub: string;
  /** When the pool answered that the user does not exist. */
  readonly readAt: string;
  readonly source: string;
}

export type SyncMessage = UpsertMessage | EraseMessage;

/** A parsed message: the pool user (validated like a Cognito event) or the sub to erase. */
export type SyncChange =
  | { readonly kind: 'upsert'; readonly user: PoolUser; readonly readAt: Date; readonly source: string }
  | { readonly kind: 'erase'; readonly sub: string; readonly readAt: Date; readonly source: string };

export function upsertMessageFor(user: PoolUser, readAt: Date, source: string): UpsertMessage {
  return {
    version: SYNC_MESSAGE_VERSION,
    kind: 'upsert',
    sub: user.cognitoUserId,
    readAt: readAt.toISOString(),
    source,
    user: {
      ...(user.email !== null ? { email: user.email } : {}),
      ...(user.displayName !== null ? { name: user.displayName } : {}),
      ...(user.handle !== null ? { preferred_username: user.handle } : {}),
      enabled: user.enabled,
      status: user.status,
      ...(user.lastModified !== null ? { lastModified: user.lastModified } : {}),
    },
  };
}

export function eraseMessageFor(sub: string, readAt: Date, source: string): EraseMessage {
  return { version: SYNC_MESSAGE_VERSION, kind: 'erase', sub, readAt: readAt.toISOString(), source };
}

function isoDate(value: unknown, field: string): Date {
  if (typeof value !== 'string' || value.length > 40) throw new InvalidEventError(field, 'must be an ISO 8601 date');
  const date = new Date(value);
  if (!Number.isFinite(date.getTime())) throw new InvalidEventError(field, 'must be an ISO 8601 date');
  return date;
}

function sourceOf(value: unknown): string {
  if (typeof value !== 'string' || !SOURCE_PATTERN.test(value))
    throw new InvalidEventError('body.source', 'must be an event name');
  return value;
}

/**
 * Parses a version-2 body that JSON.parse already turned into `parsed`. The body crossed a trust boundary, so
 * every field is checked like a Cognito event's; errors name the field, never the value.
 */
export function parseSyncMessage(parsed: Record<string, unknown>): SyncChange {
  if (parsed.version !== SYNC_MESSAGE_VERSION)
    throw new InvalidEventError('body.version', `must be ${SYNC_MESSAGE_VERSION}`);
  const { sub } = parsed;
  if (!isSub(sub)) throw new InvalidEventError('body.sub', 'is not a Cognito user id');
  const readAt = isoDate(parsed.readAt, 'body.readAt');
  const source = sourceOf(parsed.source);
  if (parsed.kind === 'erase') return { kind: 'erase', sub, readAt, source };
  if (parsed.kind !== 'upsert') throw new InvalidEventError('body.kind', 'must be upsert or erase');
  const body = parsed.user;
  if (!isRecord(body)) throw new InvalidEventError('body.user', 'must be an object');
  const mapped = userFromAttributes({ ...body, sub }, 'body.user');
  if (typeof body.enabled !== 'boolean') throw new InvalidEventError('body.user.enabled', 'must be a boolean');
  if (typeof body.status !== 'string' || !STATUS_PATTERN.test(body.status))
    throw new InvalidEventError('body.user.status', 'must be a Cognito user status');
  const lastModified =
    body.lastModified === undefined ? null : isoDate(body.lastModified, 'body.user.lastModified').toISOString();
  return {
    kind: 'upsert',
    readAt,
    source,
    user: { ...mapped, enabled: body.enabled, status: body.status, lastModified },
  };
}
