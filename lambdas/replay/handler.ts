// Lambda adapter for the one asynchronous writer: drains its queue (queued sign-ups and sync messages) into the
// sync.* functions. SQS event source with partial batch responses: a record that fails is redelivered after
// the visibility timeout (the backoff), and after maxReceiveCount deliveries it moves to the dead-letter
// queue, whose alarm notifies the stage's topic. Not under Cognito's 5 s budget.
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { databasePort } from '../postgres/connection';
import type { Now } from '../runtime/clock';
import { createLogger, type Logger } from '../runtime/logger';
import { createSyncWriter } from '../users/postgres/postgres-users';
import type { SyncWriter } from '../users/users-repository';
import { writeBatch } from './core';
import type { WriterSettings } from './settings';

export interface WriterHandlerDeps {
  /** @default JSON lines on stdout for service `replay` */
  readonly logger?: Logger;
  /** @default the sync.* functions over one lazily opened connection to `settings.database` */
  readonly users?: SyncWriter;
  /** @default Date.now */
  readonly clock?: Now;
}

export interface WriterHandler {
  (event: SQSEvent, context?: Pick<Context, 'awsRequestId'>): Promise<SQSBatchResponse>;
  /** Closes the database connection, if it opened one. */
  readonly close: () => Promise<void>;
}

export function createHandler(settings: WriterSettings, deps: WriterHandlerDeps = {}): WriterHandler {
  // Known as `replay` in its log lines and in pg_stat_activity, like its entry folder.
  const logger = deps.logger ?? createLogger({ service: 'replay' });
  const users = databasePort(deps.users, settings.database, { applicationName: 'replay' }, createSyncWriter);
  const erasurePolicy = settings.erasurePolicy ?? 'delete';
  const handler = (event: SQSEvent, context?: Pick<Context, 'awsRequestId'>) =>
    writeBatch(event, {
      users: users.port,
      erasurePolicy,
      logger: logger.child({ requestId: context?.awsRequestId }),
      ...(deps.clock ? { clock: deps.clock } : {}),
    });
  return Object.assign(handler, { close: users.close });
}
