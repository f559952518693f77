// Lambda adapter for the replay function: drains the fallback queue into the same idempotent upsert as the
// post-confirmation trigger. SQS event source with partial batch responses: a record that fails is
// redelivered after the visibility timeout (the backoff), and after maxReceiveCount deliveries it moves to
// the dead-letter queue, whose alarm calls an operator. Not under Cognito's 5 s budget.
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { connectionSourceFor, databaseSettingsFromEnv } from '../postgres/connection-source';
import { LazyConnection } from '../postgres/connection';
import { createLogger } from '../runtime/logger';
import { createUsersRepository } from '../users/postgres/postgres-users';
import { replayBatch } from './core';

const logger = createLogger({ service: 'replay' });
const connection = new LazyConnection(connectionSourceFor(databaseSettingsFromEnv(process.env)), { applicationName: 'replay' });
const users = createUsersRepository(connection);

export async function handler(event: SQSEvent, context?: Pick<Context, 'awsRequestId'>): Promise<SQSBatchResponse> {
  return replayBatch(event, { users, logger: logger.child({ requestId: context?.awsRequestId }) });
}
