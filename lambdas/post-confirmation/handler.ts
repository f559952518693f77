// Lambda adapter for the Cognito Post Confirmation trigger: wiring, logging, and nothing else.
import type { Context } from 'aws-lambda';
import { isSub } from '../cognito/sub';
import { databasePort } from '../postgres/connection';
import { describeError, toCallerError } from '../runtime/errors';
import { createLogger, type Logger } from '../runtime/logger';
import { sqsSyncQueue } from '../sync/sqs/sqs-sync-queue';
import type { SyncQueue } from '../sync/sync-queue';
import { createSignUpWriter } from '../users/postgres/postgres-users';
import type { SignUpWriter } from '../users/users-repository';
import type { Now } from '../runtime/clock';
import { handlePostConfirmation } from './core';
import type { PostConfirmationSettings } from './settings';
import { withSmokeProbe } from './smoke-probe';

/** Cognito waits this long for a trigger, whatever the function's own timeout. */
export const COGNITO_BUDGET_MS = 5000;
/** Kept back from the budget for returning the response and Lambda's own overhead. */
export const RESPONSE_MARGIN_MS = 300;

export type BudgetContext = Pick<Context, 'awsRequestId'> & Partial<Pick<Context, 'getRemainingTimeInMillis'>>;

export interface PostConfirmationHandlerDeps {
  /** @default JSON lines on stdout for service `post-confirmation` */
  readonly logger?: Logger;
  /** @default sync.sign_up over one lazily opened connection to `settings.database` */
  readonly users?: SignUpWriter;
  /** @default the sync queue in SQS at `settings.fallbackQueueUrl`, when there is one */
  readonly fallback?: SyncQueue;
  /** @default Date.now */
  readonly clock?: Now;
}

export interface PostConfirmationHandler {
  <E>(event: E, context?: BudgetContext): Promise<E>;
  /** Closes the database connection, if it opened one; a later invocation opens a new one. */
  readonly close: () => Promise<void>;
}

/** Builds the handler once per container: the connection opens on the first event and is reused after. */
export function createHandler(
  settings: PostConfirmationSettings,
  deps: PostConfirmationHandlerDeps = {},
): PostConfirmationHandler {
  const logger = deps.logger ?? createLogger({ service: 'post-confirmation' });
  const clock = deps.clock ?? Date.now;
  const users = databasePort(
    deps.users,
    settings.database,
    { applicationName: 'post-confirmation' },
    createSignUpWriter,
  );
  // Within Cognito's budget: a short default send and one retry; the deadline is what really bounds it.
  const queue =
    deps.fallback ??
    (settings.fallbackQueueUrl === undefined
      ? undefined
      : sqsSyncQueue({ queueUrl: settings.fallbackQueueUrl, defaultTimeoutMs: 2000, maxAttempts: 2 }));
  const useCase = withSmokeProbe(handlePostConfirmation);

  const handler = async <E>(event: E, context?: BudgetContext): Promise<E> => {
    // One deadline per event, fixed once: Cognito's budget from now, or the function's own end if sooner,
    // less the margin for the response. The statement and the fallback send both stop at it.
    const started = clock();
    const lambdaLeft = context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
    const deadline = started + Math.min(COGNITO_BUDGET_MS, lambdaLeft) - RESPONSE_MARGIN_MS;
    const log = logger.child({ requestId: context?.awsRequestId });
    try {
      return await useCase(event, {
        users: users.port,
        logger: log,
        clock,
        deadline,
        ...(queue ? { fallback: queue } : {}),
      });
    } catch (error) {
      log.error('post-confirmation failed', { ...describeError(error), sub: safeSub(event) });
      throw toCallerError(error, context?.awsRequestId);
    }
  };
  return Object.assign(handler, { close: users.close });
}

/** The sub for the error log line, only when it is a plausible id (never a free-form string). */
function safeSub(event: unknown): string | undefined {
  const sub = (event as { request?: { userAttributes?: { sub?: unknown } } } | null)?.request?.userAttributes?.sub;
  return isSub(sub) ? sub : undefined;
}
