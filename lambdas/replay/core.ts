// The one asynchronous writer, free of AWS: every record of the queue, a queued sign-up (version 1) or a sync
// message (version 2: a user's state, their erasure, their state with their groups, a deleted group), into the
// sync.* function that applies it. Order and duplicates are the database's to
// settle (each state carries the time it was read; erasure is forever), so records are applied as they come.
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Now } from '../runtime/clock';
import { isSynced } from '../cognito/pool-user';
import { describeError, InvalidEventError } from '../runtime/errors';
import { DatabaseUnavailableError, logLevelFor } from '../postgres/errors';
import type { Logger } from '../runtime/logger';
import { UserRefusedError, type ErasurePolicy, type SyncWriter } from '../users/users-repository';
import { parseQueuedChange, sentTimestamp, type QueuedChange } from './queue-message';

export interface WriterDeps {
  readonly users: SyncWriter;
  readonly erasurePolicy: ErasurePolicy;
  readonly logger: Logger;
  /** @default Date.now */
  readonly clock?: Now;
}

/** What a batch did, record by record, for its summary line. */
export interface WriteCounts {
  records: number;
  /** Written, or found already so: the record is done. */
  applied: number;
  /** Not written because the row holds a later state or the user was erased: done too. */
  superseded: number;
  /** A version-2 upsert of a user whose status is not synced (UNCONFIRMED): nothing to write. */
  skipped: number;
  /** The database refused the user's values: logged at ERROR and acknowledged, never retried. */
  refused: number;
  /** Malformed: fails every delivery and so reaches the dead-letter queue. */
  rejected: number;
  /** Failed for a reason a later delivery may not meet (the database down, a bug): redelivered. */
  retried: number;
}

function receiveCount(record: SQSRecord): number | undefined {
  const count = Number(record.attributes?.ApproximateReceiveCount);
  return Number.isInteger(count) ? count : undefined;
}

// A queued sign-up whose row exists already was overtaken by the trigger or the writer: nothing to write.
const SUPERSEDED = new Set(['stale', 'erased', 'exists']);

/**
 * A user's group list: their state first (the row the list hangs on may not be written yet), then the list.
 * A user not yet synced (UNCONFIRMED) has no row and gets none: their confirmation brings a sign-up, and the
 * reconcile brings their groups.
 */
async function applyGroups(
  change: Extract<QueuedChange, { kind: 'groups' }>,
  deps: WriterDeps,
  log: Logger,
): Promise<keyof WriteCounts> {
  const { user } = change;
  const fields = { sub: user.cognitoUserId, kind: change.kind, source: change.source };
  if (!isSynced(user)) {
    log.info('user not in a synced status; nothing written', { ...fields, status: user.status, outcome: 'skipped' });
    return 'skipped';
  }
  const applied = await deps.users.apply(user, change.readAt);
  if (applied.outcome === 'refused') {
    log.error('the database refused the user; acknowledged, not retried', {
      ...fields,
      outcome: 'refused',
      errorCode: applied.errorCode,
    });
    return 'refused';
  }
  const outcome = await deps.users.setGroups(user.cognitoUserId, change.groups, change.readAt);
  log.info('user groups applied', { ...fields, userOutcome: applied.outcome, outcome, groups: change.groups.length });
  return outcome === 'updated' || outcome === 'unchanged' ? 'applied' : 'superseded';
}

/** Applies one change; resolves to the outcome for the counts, after logging it by sub. */
async function apply(change: QueuedChange, deps: WriterDeps, log: Logger): Promise<keyof WriteCounts> {
  switch (change.kind) {
    case 'sign-up': {
      const { user } = change;
      const result = await deps.users.signUp(user, change.readAt);
      log.info('queued sign-up written', {
        sub: user.cognitoUserId,
        kind: change.kind,
        outcome: result.outcome,
        handleAdjusted: result.handleAdjusted,
        handleRefused: user.handleRefused === true,
      });
      return SUPERSEDED.has(result.outcome) ? 'superseded' : 'applied';
    }
    case 'upsert': {
      const { user } = change;
      // Not a user yet (UNCONFIRMED): nothing to write, and nothing to mark outside a reconcile run. The
      // reconcile sees them; their confirmation brings a sign-up of its own.
      if (!isSynced(user)) {
        log.info('user not in a synced status; nothing written', {
          sub: user.cognitoUserId,
          kind: change.kind,
          source: change.source,
          status: user.status,
          outcome: 'skipped',
        });
        return 'skipped';
      }
      const result = await deps.users.apply(user, change.readAt);
      if (result.outcome === 'refused') {
        log.error('the database refused the user; acknowledged, not retried', {
          sub: user.cognitoUserId,
          kind: change.kind,
          source: change.source,
          outcome: 'refused',
          errorCode: result.errorCode,
        });
        return 'refused';
      }
      log.info('user state applied', {
        sub: user.cognitoUserId,
        kind: change.kind,
        source: change.source,
        outcome: result.outcome,
        handleRefused: user.handleRefused === true,
      });
      return SUPERSEDED.has(result.outcome) ? 'superseded' : 'applied';
    }
    case 'erase': {
      const outcome = await deps.users.erase(change.sub, deps.erasurePolicy);
      log.info('user erased', {
        sub: change.sub,
        kind: change.kind,
        source: change.source,
        outcome,
        policy: deps.erasurePolicy,
      });
      return 'applied';
    }
    case 'groups':
      return applyGroups(change, deps, log);
    case 'delete-group': {
      const removed = await deps.users.deleteGroup(change.group, change.readAt);
      // A group's name names a group, not a person.
      log.info('group deleted', { group: change.group, kind: change.kind, source: change.source, removed });
      return 'applied';
    }
  }
}

/**
 * Applies each record in order. Returns the ids of the records to be redelivered: those that failed, and,
 * once the database is found unavailable, the untried rest of the batch (trying them would only wait out
 * the same timeouts again). A user the database refuses is acknowledged: it would be refused on every
 * delivery, and one bad user must never hold up the rest.
 */
export async function writeBatch(event: SQSEvent, deps: WriterDeps): Promise<SQSBatchResponse> {
  const clock = deps.clock ?? Date.now;
  const records = Array.isArray(event?.Records) ? event.Records : [];
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  const counts: WriteCounts = {
    records: records.length,
    applied: 0,
    superseded: 0,
    skipped: 0,
    refused: 0,
    rejected: 0,
    retried: 0,
  };
  let databaseDown = false;
  for (const record of records) {
    const messageId = typeof record?.messageId === 'string' ? record.messageId : undefined;
    // Without a message id SQS cannot be told which record failed; failing the whole batch is the safe answer.
    if (messageId === undefined) throw new InvalidEventError('Records[].messageId', 'is missing');
    const log = deps.logger.child({ messageId, receiveCount: receiveCount(record) });
    if (databaseDown) {
      failures.push({ itemIdentifier: messageId });
      counts.retried += 1;
      continue;
    }
    try {
      const change = parseQueuedChange(record.body, sentTimestamp(record.attributes), clock);
      counts[await apply(change, deps, log)] += 1;
    } catch (error) {
      if (error instanceof UserRefusedError) {
        log.error('the database refused the user; acknowledged, not retried', {
          sub: error.sub,
          outcome: 'refused',
          errorName: error.name,
          errorCode: error.code,
          constraint: error.constraint,
        });
        counts.refused += 1;
        continue;
      }
      failures.push({ itemIdentifier: messageId });
      if (error instanceof DatabaseUnavailableError) databaseDown = true;
      // Only the field of a malformed message is logged, never the body.
      const fields =
        error instanceof InvalidEventError ? { field: error.field, outcome: 'rejected' } : { outcome: 'retry' };
      counts[error instanceof InvalidEventError ? 'rejected' : 'retried'] += 1;
      // A passing outage is a WARN (the redelivery is the retry); a permanent one, like anything unexpected, an ERROR.
      const level = error instanceof DatabaseUnavailableError ? logLevelFor(error) : 'error';
      log[level]('queued change not applied', { ...describeError(error), ...fields });
    }
  }
  if (records.length > 0) deps.logger.info('batch written', { ...counts });
  return { batchItemFailures: failures };
}
