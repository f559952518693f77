// The post-confirmation use case, free of AWS: validate the event, upsert the user, return the event.
import { DatabaseUnavailableError, describeError, InvalidEventError, UnsupportedTriggerError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { replayMessageFor, type FallbackQueue } from '../shared/queue';
import { userFromAttributes, type UpsertResult, type UsersRepository } from '../shared/users';

export const CONFIRM_SIGN_UP = 'PostConfirmation_ConfirmSignUp';
export const CONFIRM_FORGOT_PASSWORD = 'PostConfirmation_ConfirmForgotPassword';

export interface PostConfirmationDeps {
  readonly users: UsersRepository;
  readonly logger: Logger;
  readonly clock?: () => number;
  /**
   * Where a sign-up goes when the database is unavailable, to be replayed later. Without it (the local
   * stack) the DatabaseUnavailableError is thrown, and Cognito reports the failure.
   */
  readonly fallback?: FallbackQueue;
}

export interface PostConfirmationEvent {
  readonly triggerSource: string;
  readonly request: { readonly userAttributes: Record<string, unknown> };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the envelope and returns the trigger source; the attributes are checked by userFromAttributes. */
export function triggerSourceOf(event: unknown): string {
  if (!isRecord(event)) throw new InvalidEventError('event', 'must be an object');
  const { triggerSource } = event;
  if (typeof triggerSource !== 'string' || triggerSource === '') {
    throw new InvalidEventError('triggerSource', 'is missing or not a string');
  }
  return triggerSource;
}

/**
 * Writes the confirmed user and resolves to the event, unchanged, as Cognito requires.
 * A forgot-password confirmation writes nothing. Anything else is refused with a typed error.
 * When the database is unavailable and a fallback queue is configured, the validated user is queued for
 * replay and the event returned: the sign-up is neither lost nor blocked. If the queue fails too, the
 * DatabaseUnavailableError is thrown.
 */
export async function handlePostConfirmation<E>(event: E, deps: PostConfirmationDeps): Promise<E> {
  const clock = deps.clock ?? Date.now;
  const started = clock();
  const triggerSource = triggerSourceOf(event);
  const log = deps.logger.child({ triggerSource: triggerSource.slice(0, 64) });
  if (triggerSource === CONFIRM_FORGOT_PASSWORD) {
    log.info('password reset confirmed; nothing to write', { outcome: 'skipped' });
    return event;
  }
  if (triggerSource !== CONFIRM_SIGN_UP) throw new UnsupportedTriggerError(triggerSource);
  const request = (event as Record<string, unknown>).request;
  if (!isRecord(request)) throw new InvalidEventError('request', 'is missing or not an object');
  const user = userFromAttributes(request.userAttributes);
  let result: UpsertResult;
  try {
    result = await deps.users.upsert(user);
  } catch (error) {
    if (!(error instanceof DatabaseUnavailableError) || deps.fallback === undefined) throw error;
    const database = describeError(error);
    try {
      await deps.fallback.enqueue(replayMessageFor(triggerSource, event as Record<string, unknown>, user));
    } catch (queueError) {
      // Neither store took the user: Cognito must report the failure, and `users reconcile` repairs the gap.
      const queue = describeError(queueError);
      log.error('database unavailable and the fallback queue refused the sign-up', {
        sub: user.cognitoUserId,
        outcome: 'failed',
        errorName: database.errorName,
        errorCode: database.errorCode,
        queueErrorName: queue.errorName,
        queueErrorCode: queue.errorCode,
        durationMs: clock() - started,
      });
      throw error;
    }
    log.warn('database unavailable; sign-up queued for replay', {
      sub: user.cognitoUserId,
      outcome: 'queued',
      errorName: database.errorName,
      errorCode: database.errorCode,
      durationMs: clock() - started,
    });
    return event;
  }
  log.info('user written', {
    sub: user.cognitoUserId,
    outcome: result.outcome,
    handleAdjusted: result.handleAdjusted,
    durationMs: clock() - started,
  });
  return event;
}
