// Lambda adapter for the Cognito PreSignUp trigger: wiring, logging, and nothing else.
import type { Context } from 'aws-lambda';
import { connectionSourceFor, databaseSettingsFromEnv } from '../postgres/connection-source';
import { LazyConnection } from '../postgres/connection';
import { describeError, HandleRefusedError, toCallerError } from '../runtime/errors';
import { createLogger } from '../runtime/logger';
import { isHandleTaken } from '../users/postgres/postgres-users';
import { handlePreSignUp } from './core';

const logger = createLogger({ service: 'pre-sign-up' });
// A read-only lookup that must never hold the sign-up for long: one short attempt, no retry budget to spare.
// Unlike the trigger, the connection is closed after every lookup: warm pre-sign-up containers must not sit on
// idle connections that the post-confirmation function needs (this function has no reserved concurrency,
// so that a burst of sign-ups is never throttled), and one connect per sign-up is cheap at sign-up rates.
const connection = new LazyConnection(connectionSourceFor(databaseSettingsFromEnv(process.env)), {
  applicationName: 'pre-sign-up',
  timeouts: { connectMs: 1000, statementMs: 500, queryMs: 1000 },
  budgetMs: 2000,
});
const handles = { isTaken: (handle: string) => isHandleTaken(connection, handle) };

export async function handler<E>(event: E, context?: Pick<Context, 'awsRequestId'>): Promise<E> {
  const log = logger.child({ requestId: context?.awsRequestId });
  try {
    return await handlePreSignUp(event, { handles, logger: log });
  } catch (error) {
    // A refused handle is the function doing its job (already logged), not a failure to alarm on.
    if (error instanceof HandleRefusedError) throw error;
    log.error('pre-sign-up failed', describeError(error));
    throw toCallerError(error, context?.awsRequestId);
  } finally {
    await connection.close();
  }
}
