// Version 2 of the queue's messages: "this is the pool's state of user X, read at T" (upsert), "user X no
// longer exists, found at T" (erase), "this is the pool's state of user X and every group X is in, read at T"
// (groups), or "group G no longer exists, found at T" (delete-group). The user-events function sends them; the
// one asynchronous writer (lambdas/replay) applies them, beside version 1 (a queued sign-up, sign-up-message.ts).
// The kinds were added one by one under the same version: a writer reads every kind an older sender sent.
import { InvalidEventError } from '../runtime/errors';
import { isRecord } from '../runtime/records';
import { userFromAttributes } from '../users/user';
import { isSub } from '../cognito/sub';
import { isGroupName } from '../cognito/ids';
import type { PoolUser } from '../cognito/pool-user';

export const SYNC_MESSAGE_VERSION = 2;

/** What a message may say it was caused by: a CloudTrail event name (for the logs), or the reconcile. */
const SOURCE_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const STATUS_PATTERN = /^[A-Z_]{1,32}$/;

/** The user as an upsert or groups message carries it. */
export interface MessageUser {
  readonly email?: string;
  readonly name?: string;
  readonly preferred_username?: string;
  readonly enabled: boolean;
  readonly status: string;
  readonly lastModified?: string;
}

export interface UpsertMessage {
  readonly version: typeof SYNC_MESSAGE_VERSION;
  readonly kind: 'upsert';
  readonly sub: string;
  /** When the state was read from the pool (ISO 8601): the order key, a later read is never older. */
  readonly readAt: string;
  readonly source: string;
  readonly user: MessageUser;
}

/**
 * The user's state and their whole group list (AdminListGroupsForUser, every page), both read after readAt was
 * stamped. The user travels with the list so that the writer can write a row the table lacks before the list.
 */
export interface GroupsMessage {
  readonly version: typeof SYNC_MESSAGE_VERSION;
  readonly kind: 'groups';
  readonly sub: string;
  readonly readAt: string;
  readonly source: string;
  readonly user: MessageUser;
  readonly groups: readonly string[];
}

/** A group the pool answered it does not have (GetGroup: ResourceNotFoundException), found at readAt. */
export interface DeleteGroupMessage {
  readonly version: typeof SYNC_MESSAGE_VERSION;
  readonly kind: 'delete-group';
  readonly group: string;
  readonly readAt: string;
  readonly source: string;
}

export interface EraseMessage {
  readonly version: typeof SYNC_MESSAGE_VERSION;
  readonly kind: 'erase';
  readonly sub: string;
  /** When the pool answered that the user does not exist. */
  readonly readAt: string;
  readonly source: string;
}

export type SyncMessage = UpsertMessage | EraseMessage | GroupsMessage | DeleteGroupMessage;

/**
 * Groups one user may be listed in by one message: Cognito lets a user be in at most 100 groups; the bound keeps
 * a message far inside SQS's 256 KiB.
 */
export const MAX_MESSAGE_GROUPS = 500;

/** A parsed message: the pool user (validated like a Cognito event), the sub to erase, or the group deleted. */
export type SyncChange =
  | { readonly kind: 'upsert'; readonly user: PoolUser; readonly readAt: Date; readonly source: string }
  | { readonly kind: 'erase'; readonly sub: string; readonly readAt: Date; readonly source: string }
  | {
      readonly kind: 'groups';
      readonly user: PoolUser;
      readonly groups: readonly string[];
      readonly readAt: Date;
      readonly source: string;
    }
  | { readonly kind: 'delete-group'; readonly group: string; readonly readAt: Date; readonly source: string };

function messageUser(user: PoolUser): MessageUser {
  return {
    ...(user.email !== null ? { email: user.email } : {}),
    ...(user.displayName !== null ? { name: user.displayName } : {}),
    ...(user.handle !== null ? { preferred_username: user.handle } : {}),
    enabled: user.enabled,
    status: user.status,
    ...(user.lastModified !== null ? { lastModified: user.lastModified } : {}),
  };
}

export function upsertMessageFor(user: PoolUser, readAt: Date, source: string): UpsertMessage {
  return {
    version: SYNC_MESSAGE_VERSION,
    kind: 'upsert',
    sub: user.cognitoUserId,
    readAt: readAt.toISOString(),
    source,
    user: messageUser(user),
  };
}

export function groupsMessageFor(
  user: PoolUser,
  groups: readonly string[],
  readAt: Date,
  source: string,
): GroupsMessage {
  return {
    version: SYNC_MESSAGE_VERSION,
    kind: 'groups',
    sub: user.cognitoUserId,
    readAt: readAt.toISOString(),
    source,
    user: messageUser(user),
    groups: [...new Set(groups)].sort(),
  };
}

export function deleteGroupMessageFor(group: string, readAt: Date, source: string): DeleteGroupMessage {
  return { version: SYNC_MESSAGE_VERSION, kind: 'delete-group', group, readAt: readAt.toISOString(), source };
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

function groupList(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > MAX_MESSAGE_GROUPS)
    throw new InvalidEventError('body.groups', `must be a list of at most ${MAX_MESSAGE_GROUPS} group names`);
  return value.map((name: unknown, i) => {
    if (!isGroupName(name)) throw new InvalidEventError(`body.groups[${i}]`, 'is not a group name');
    return name;
  });
}

function poolUserOf(parsed: Record<string, unknown>, sub: string): PoolUser {
  const body = parsed.user;
  if (!isRecord(body)) throw new InvalidEventError('body.user', 'must be an object');
  const mapped = userFromAttributes({ ...body, sub }, 'body.user');
  if (typeof body.enabled !== 'boolean') throw new InvalidEventError('body.user.enabled', 'must be a boolean');
  if (typeof body.status !== 'string' || !STATUS_PATTERN.test(body.status))
    throw new InvalidEventError('body.user.status', 'must be a Cognito user status');
  const lastModified =
    body.lastModified === undefined ? null : isoDate(body.lastModified, 'body.user.lastModified').toISOString();
  return { ...mapped, enabled: body.enabled, status: body.status, lastModified };
}

/**
 * Parses a version-2 body that JSON.parse already turned into `parsed`. The body crossed a trust boundary, so
 * every field is checked like a Cognito event's; errors name the field, never the value.
 */
export function parseSyncMessage(parsed: Record<string, unknown>): SyncChange {
  if (parsed.version !== SYNC_MESSAGE_VERSION)
    throw new InvalidEventError('body.version', `must be ${SYNC_MESSAGE_VERSION}`);
  if (parsed.kind === 'delete-group') {
    const { group } = parsed;
    if (!isGroupName(group)) throw new InvalidEventError('body.group', 'is not a group name');
    return {
      kind: 'delete-group',
      group,
      readAt: isoDate(parsed.readAt, 'body.readAt'),
      source: sourceOf(parsed.source),
    };
  }
  const { sub } = parsed;
  if (!isSub(sub)) throw new InvalidEventError('body.sub', 'is not a Cognito user id');
  const readAt = isoDate(parsed.readAt, 'body.readAt');
  const source = sourceOf(parsed.source);
  if (parsed.kind === 'erase') return { kind: 'erase', sub, readAt, source };
  if (parsed.kind === 'upsert') return { kind: 'upsert', readAt, source, user: poolUserOf(parsed, sub) };
  if (parsed.kind === 'groups')
    return { kind: 'groups', readAt, source, user: poolUserOf(parsed, sub), groups: groupList(parsed.groups) };
  throw new InvalidEventError('body.kind', 'must be upsert, erase, groups or delete-group');
}
