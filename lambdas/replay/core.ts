// The replay use case, free of AWS: each queued sign-up into the same idempotent upsert as the trigger.
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { CONFIRM_SIGN_UP } from '../cognito/trigger-event';
import { DatabaseUnavailableError, describeError, InvalidEventError } from '../runtime/errors';
import type { Logger } from '../runtime/logger';
import { parseReplayMessage } from '../sync/replay-message';
import type { UsersRepository } from '../users/users-repository';

export interface ReplayDeps {
  readonly users: UsersRepository;
  readonly logger: Logger;
}

function receiveCount(record: SQSRecord): number | undefined {
  const count = Number(record.attributes?.ApproximateReceiveCount);
  return Number.isInteger(count) ? count : undefined;
}

/**
 * Replays each record in order. Returns the ids of the records to be redelivered: those that failed, and,
 * once the database is found unavailable, the untried rest of the batch (trying them would only wait out
 * the same timeouts again).
 */
export async function replayBatch(event: SQSEvent, deps: ReplayDeps): Promise<SQSBatchResponse> {
  const records = Array.isArray(event?.Records) ? event.Records : [];
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  let databaseDown = false;
  for (const record of records) {
    const messageId = typeof record?.messageId === 'string' ? record.messageId : undefined;
    // Without a message id SQS cannot be told which record failed; failing the whole batch is the safe answer.
    if (messageId === undefined) throw new InvalidEventError('Records[].messageId', 'is missing');
    const log = deps.logger.child({ messageId, receiveCount: receiveCount(record) });
    if (databaseDown) {
      failures.push({ itemIdentifier: messageId });
      continue;
    }
    try {
      const user = parseReplayMessage(record.body, CONFIRM_SIGN_UP);
      const result = await deps.users.upsert(user);
      log.info('queued sign-up replayed', { sub: user.cognitoUserId, outcome: result.outcome, handleAdjusted: result.handleAdjusted });
    } catch (error) {
      failures.push({ itemIdentifier: messageId });
      if (error instanceof DatabaseUnavailableError) databaseDown = true;
      // A malformed message fails every delivery and so reaches the dead-letter queue; only the field is logged.
      const fields = error instanceof InvalidEventError ? { field: error.field, outcome: 'rejected' } : { outcome: 'retry' };
      log.error('queued sign-up not replayed', { ...describeError(error), ...fields });
    }
  }
  return { batchItemFailures: failures };
}
