// Lambda adapter for the Cognito Post Confirmation trigger: wiring, logging, and nothing else.
import type { Context } from 'aws-lambda';
import { connectionSourceFromEnv } from '../shared/config';
import { LazyConnection } from '../shared/db';
import { describeError, toCallerError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import { createUsersRepository, SUB_PATTERN } from '../shared/users';
import { handlePostConfirmation } from './core';

const logger = createLogger({ service: 'post-confirmation' });
// Read and checked on cold start, so a missing variable fails loudly and by name before any event.
const connection = new LazyConnection(connectionSourceFromEnv(), { applicationName: 'post-confirmation' });
const users = createUsersRepository(connection);

export async function handler<E>(event: E, context?: Pick<Context, 'awsRequestId'>): Promise<E> {
  const log = logger.child({ requestId: context?.awsRequestId });
  try {
    return await handlePostConfirmation(event, { users, logger: log });
  } catch (error) {
    log.error('post-confirmation failed', { ...describeError(error), sub: safeSub(event) });
    throw toCallerError(error, context?.awsRequestId);
  }
}

/** The sub for the error log line, only when it is a plausible id (never a free-form string). */
function safeSub(event: unknown): string | undefined {
  const sub = (event as { request?: { userAttributes?: { sub?: unknown } } } | null)?.request?.userAttributes?.sub;
  return typeof sub === 'string' && SUB_PATTERN.test(sub) ? sub : undefined;
}
