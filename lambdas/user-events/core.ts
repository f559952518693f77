// The user-events use case, free of AWS: a CloudTrail hint "user X changed" (attributes, or the groups X is in)
// or "group G changed" in, the pool's current state of X, of X and X's groups, or the news that X or G is gone
// out, as one message to the writer's queue.
import { userEventFrom, type IgnoreReason } from '../cognito/cloudtrail-event';
import { poolUserFrom, type CognitoUserShape } from '../cognito/pool-user';
import { describeError, InvalidEventError } from '../runtime/errors';
import type { LogFields, Logger } from '../runtime/logger';
import { deleteGroupMessageFor, eraseMessageFor, groupsMessageFor, upsertMessageFor } from '../sync/sync-message';
import type { SyncQueue } from '../sync/sync-queue';

/** The port to the pool: one user by sub, or `undefined` when the pool has no such user. */
export interface UserReader {
  read(sub: string): Promise<CognitoUserShape | undefined>;
}

/** The port to the pool's groups. */
export interface GroupReader {
  /** Every group the user named `userName` is in, all pages (AdminListGroupsForUser takes the user name). */
  groupsOf(userName: string): Promise<string[]>;
  /** Whether the pool has the group (GetGroup; ResourceNotFoundException: false). */
  groupExists(group: string): Promise<boolean>;
}

export interface UserEventDeps {
  readonly reader: UserReader;
  readonly groups: GroupReader;
  readonly queue: SyncQueue;
  readonly logger: Logger;
  /** @default Date.now */
  readonly clock?: () => number;
}

export type UserEventOutcome =
  | 'queued_upsert'
  | 'queued_erase'
  | 'queued_groups'
  | 'queued_delete_group'
  | 'ignored_group_exists'
  | 'ignored_invalid_user'
  | `ignored_${IgnoreReason}`;

export interface UserEventResult {
  readonly outcome: UserEventOutcome;
  /** The user's sub, when one was found. */
  readonly sub?: string;
  /** The group of a group event. */
  readonly group?: string;
}

/** The pool or the queue failed; thrown so that Lambda's retries and the rule's dead-letter queue apply. */
export class UserEventNotSyncedError extends Error {
  override readonly name = 'UserEventNotSyncedError';
  constructor(
    readonly eventName: string,
    readonly causeName: string,
  ) {
    // Only names: SDK messages can quote request values.
    super(`${eventName} event not synced: ${causeName}`);
  }
}

/**
 * Handles one event and writes exactly one log line for it (eventName, eventID, sub, outcome, durationMs).
 * Ignored events and users the mapping refuses return normally: retrying would change nothing.
 */
export async function handleUserEvent(
  event: unknown,
  userPoolId: string,
  deps: UserEventDeps,
): Promise<UserEventResult> {
  const clock = deps.clock ?? Date.now;
  const started = clock();
  const parsed = userEventFrom(event, userPoolId);
  const ids: LogFields = { eventName: parsed.eventName, eventID: parsed.eventID };
  const done = (result: UserEventResult, fields: LogFields = {}, level: 'info' | 'warn' = 'info'): UserEventResult => {
    deps.logger[level]('user event', {
      ...ids,
      sub: result.sub,
      // A group's name names a group, not a person.
      ...(result.group !== undefined ? { group: result.group } : {}),
      outcome: result.outcome,
      ...fields,
      durationMs: clock() - started,
    });
    return result;
  };

  if (parsed.kind === 'ignored') {
    // Expected noise (another pool, a failed call) is INFO; a shape we did not foresee is worth a look.
    const unexpected = parsed.reason === 'malformed' || parsed.reason === 'no_sub';
    return done({ outcome: `ignored_${parsed.reason}` }, {}, unexpected ? 'warn' : 'info');
  }

  if (parsed.kind === 'group') {
    const { group, eventName } = parsed;
    try {
      // Stamped before the pool is asked: a group made again under the same name after this read has members
      // seen later, which the deletion does not take.
      const readAt = new Date(clock());
      if (await deps.groups.groupExists(group)) {
        // Made again since the event (or the event is replayed): the reconcile settles its members.
        return done({ outcome: 'ignored_group_exists', group });
      }
      await deps.queue.send(deleteGroupMessageFor(group, readAt, eventName));
      return done({ outcome: 'queued_delete_group', group });
    } catch (error) {
      throw failed(error, eventName, { group });
    }
  }

  const { sub, eventName } = parsed;
  try {
    // The order key, stamped before the pool is asked (as the reconcile stamps its pages): a change that lands
    // while the read is in flight is reported by its own event, read later, so the newer state always carries
    // the later time and a stale answer never outranks a fresher reconcile page.
    const readAt = new Date(clock());
    const found = await deps.reader.read(sub);
    if (found === undefined) {
      await deps.queue.send(eraseMessageFor(sub, readAt, eventName));
      return done({ outcome: 'queued_erase', sub }, { subSource: parsed.subSource });
    }
    let user;
    try {
      user = poolUserFrom(found);
    } catch (error) {
      if (!(error instanceof InvalidEventError)) throw error;
      // The pool holds a value the table cannot (a NUL, a lone surrogate): no retry can fix it.
      return done(
        { outcome: 'ignored_invalid_user', sub },
        { field: error.field, subSource: parsed.subSource },
        'warn',
      );
    }
    // The read user's sub is the one written; it differs from the event's only if the event named an alias.
    const subFields = { subSource: parsed.subSource, ...(user.cognitoUserId !== sub ? { eventSub: sub } : {}) };
    if (parsed.kind === 'membership') {
      // AdminListGroupsForUser takes the user name, which is the sub only for some users: the one found by sub.
      const userName = found.Username;
      if (typeof userName !== 'string' || userName === '') throw new MissingUserNameError();
      const groups = await deps.groups.groupsOf(userName);
      await deps.queue.send(groupsMessageFor(user, groups, readAt, eventName));
      return done({ outcome: 'queued_groups', sub: user.cognitoUserId }, { ...subFields, groups: groups.length });
    }
    await deps.queue.send(upsertMessageFor(user, readAt, eventName));
    return done({ outcome: 'queued_upsert', sub: user.cognitoUserId }, subFields);
  } catch (error) {
    throw failed(error, eventName, { sub });
  }

  /** Logs a failure by its name and code and makes the error that sends the event to Lambda's retries. */
  function failed(error: unknown, eventName: string, fields: LogFields): UserEventNotSyncedError {
    const described = describeError(error);
    deps.logger.error('user event', {
      ...ids,
      ...fields,
      outcome: 'retry',
      errorName: described.errorName,
      errorCode: described.errorCode,
      durationMs: clock() - started,
    });
    return new UserEventNotSyncedError(eventName, described.errorName);
  }
}

/** The pool answered a lookup by sub with a user that has no user name: nothing to list their groups by. */
export class MissingUserNameError extends Error {
  override readonly name = 'MissingUserNameError';
  constructor() {
    super('The pool answered with a user that has no user name');
  }
}
