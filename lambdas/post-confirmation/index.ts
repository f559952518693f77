// Lambda adapter for the Cognito Post Confirmation trigger: wiring, logging, and nothing else.
import type { Context } from 'aws-lambda';
import { connectionSourceFor, databaseSettingsFromEnv } from '../postgres/connection-source';
import { LazyConnection } from '../postgres/connection';
import { optionalUrl } from '../runtime/env';
import { describeError, toCallerError } from '../runtime/errors';
import { createLogger } from '../runtime/logger';
import type { FallbackQueue } from '../sync/fallback-queue';
import { sqsFallbackQueue } from '../sync/sqs/sqs-fallback-queue';
import { createUsersRepository } from '../users/postgres/postgres-users';
import { SUB_PATTERN } from '../users/user';
import { handlePostConfirmation } from './core';

/** Cognito waits this long for a trigger, whatever the function's own timeout. */
export const COGNITO_BUDGET_MS = 5000;
/** Kept back from the budget for returning the response and Lambda's own overhead. */
export const RESPONSE_MARGIN_MS = 300;

const logger = createLogger({ service: 'post-confirmation' });
// Read and checked on cold start, so a missing variable fails loudly and by name before any event.
const connection = new LazyConnection(connectionSourceFor(databaseSettingsFromEnv(process.env)), { applicationName: 'post-confirmation' });
const users = createUsersRepository(connection);
const queueUrl = optionalUrl(process.env, 'FALLBACK_QUEUE_URL', ['https:', 'http:']);

type BudgetContext = Pick<Context, 'awsRequestId'> & Partial<Pick<Context, 'getRemainingTimeInMillis'>>;

const queue = queueUrl === undefined ? undefined : sqsFallbackQueue({ queueUrl });

export async function handler<E>(event: E, context?: BudgetContext): Promise<E> {
  const started = Date.now();
  const log = logger.child({ requestId: context?.awsRequestId });
  // The send gets whatever the database attempt left of Cognito's budget (and of the function's timeout).
  const remainingMs = () => {
    const cognitoLeft = COGNITO_BUDGET_MS - (Date.now() - started);
    const lambdaLeft = context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
    return Math.min(cognitoLeft, lambdaLeft) - RESPONSE_MARGIN_MS;
  };
  const fallback: FallbackQueue | undefined = queue && {
    enqueue: (message) => queue.enqueue(message, { timeoutMs: remainingMs() }),
  };
  try {
    return await handlePostConfirmation(event, { users, logger: log, ...(fallback ? { fallback } : {}) });
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
