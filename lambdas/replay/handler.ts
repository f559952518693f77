// Lambda adapter for the replay function: drains the fallback queue into the same idempotent upsert as the
// post-confirmation trigger. SQS event source with partial batch responses: a record that fails is
// redelivered after the visibility timeout (the backoff), and after maxReceiveCount deliveries it moves to
// the dead-letter queue, whose alarm calls an operator. Not under Cognito's 5 s budget.
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { databasePort } from '../postgres/connection';
import { createLogger, type Logger } from '../runtime/logger';
import { createUsersRepository } from '../users/postgres/postgres-users';
import type { UsersRepository } from '../users/users-repository';
import { replayBatch } from './core';
import type { ReplaySettings } from './settings';

export interface ReplayHandlerDeps {
  /** @default JSON lines on stdout for service `replay` */
  readonly logger?: Logger;
  /** @default public.users over one lazily opened connection to `settings.database` */
  readonly users?: UsersRepository;
}

export interface ReplayHandler {
  (event: SQSEvent, context?: Pick<Context, 'awsRequestId'>): Promise<SQSBatchResponse>;
  /** Closes the database connection, if it opened one. */
  readonly close: () => Promise<void>;
}

export function createHandler(settings: ReplaySettings, deps: ReplayHandlerDeps = {}): ReplayHandler {
  const logger = deps.logger ?? createLogger({ service: 'replay' });
  const users = databasePort(deps.users, settings.database, { applicationName: 'replay' }, createUsersRepository);
  const handler = (event: SQSEvent, context?: Pick<Context, 'awsRequestId'>) =>
    replayBatch(event, { users: users.port, logger: logger.child({ requestId: context?.awsRequestId }) });
  return Object.assign(handler, { close: users.close });
}
