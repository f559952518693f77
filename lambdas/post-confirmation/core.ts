// The post-confirmation use case, free of AWS: validate the event, sign the user up, return the event.
import { CONFIRM_FORGOT_PASSWORD, CONFIRM_SIGN_UP, triggerEnvelope } from '../cognito/trigger-event';
import { describeError } from '../runtime/errors';
import { DatabaseUnavailableError, logLevelFor } from '../postgres/errors';
import { UnsupportedTriggerError } from '../cognito/errors';
import type { Logger } from '../runtime/logger';
import type { FallbackQueue } from '../sync/fallback-queue';
import { replayMessageFor } from '../sync/replay-message';
import { userFromAttributes } from '../users/user';
import type { SignUpResult, SignUpWriter } from '../users/users-repository';
import { wantsFallbackProbe } from './smoke-probe';

export interface PostConfirmationDeps {
  readonly users: SignUpWriter;
  readonly logger: Logger;
  readonly clock?: () => number;
  /**
   * Epoch ms by which everything this event does must be done: the statement and the fallback send share it.
   * @default no deadline of its own (the connection's per-statement budget, the queue's default timeout)
   */
  readonly deadline?: number;
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
  const { triggerSource, request, event: envelope } = triggerEnvelope(event);
  const log = deps.logger.child({ triggerSource: triggerSource.slice(0, 64) });
  if (triggerSource === CONFIRM_FORGOT_PASSWORD) {
    log.info('password reset confirmed; nothing to write', { outcome: 'skipped' });
    return event;
  }
  if (triggerSource !== CONFIRM_SIGN_UP) throw new UnsupportedTriggerError(triggerSource);
  const user = userFromAttributes(request.userAttributes);
  const { deadline } = deps;
  // The one message a sign-up becomes when it goes to the queue (the database unavailable, or a smoke probe),
  // sent within what is left of the event's deadline.
  const enqueue = (queue: FallbackQueue) =>
    queue.enqueue(
      replayMessageFor(triggerSource, envelope, user),
      deadline === undefined ? {} : { timeoutMs: deadline - clock() },
    );
  if (wantsFallbackProbe(user.cognitoUserId, request)) {
    // The smoke test's check that the queue takes a message from this function's role, through its network
    // path; the writer replays it like any other (and meets the probe's tombstone if the erase came first).
    if (deps.fallback === undefined) {
      log.info('smoke probe: no fallback queue here', { sub: user.cognitoUserId, outcome: 'skipped', probe: true });
      return event;
    }
    try {
      await enqueue(deps.fallback);
    } catch (queueError) {
      const queue = describeError(queueError);
      // No failureClass: the database is not involved, and a smoke run must not trip the database alarms.
      log.error('smoke probe: the fallback queue refused the message', {
        sub: user.cognitoUserId,
        outcome: 'failed',
        probe: true,
        queueErrorName: queue.errorName,
        queueErrorCode: queue.errorCode,
        durationMs: clock() - started,
      });
      throw queueError;
    }
    log.info('smoke probe queued for replay', {
      sub: user.cognitoUserId,
      outcome: 'queued',
      probe: true,
      durationMs: clock() - started,
    });
    return event;
  }
  let result: SignUpResult;
  try {
    // The state was read when Cognito invoked us: the order key against later changes of the same user.
    result = await deps.users.signUp(user, new Date(started), deadline === undefined ? {} : { deadline });
  } catch (error) {
    if (!(error instanceof DatabaseUnavailableError) || deps.fallback === undefined) throw error;
    const database = describeError(error);
    try {
      await enqueue(deps.fallback);
    } catch (queueError) {
      // Neither store took the user: Cognito must report the failure, and `users reconcile` repairs the gap.
      const queue = describeError(queueError);
      log.error('database unavailable and the fallback queue refused the sign-up', {
        sub: user.cognitoUserId,
        outcome: 'failed',
        errorName: database.errorName,
        errorCode: database.errorCode,
        failureClass: database.failureClass,
        errorClass: database.errorClass,
        queueErrorName: queue.errorName,
        queueErrorCode: queue.errorCode,
        durationMs: clock() - started,
      });
      throw error;
    }
    // Queued either way, so nothing is lost; a permanent failure (a broken deploy) is an ERROR someone must fix
    // before the replays run out.
    log[logLevelFor(error)]('database unavailable; sign-up queued for replay', {
      sub: user.cognitoUserId,
      outcome: 'queued',
      errorName: database.errorName,
      errorCode: database.errorCode,
      failureClass: database.failureClass,
      errorClass: database.errorClass,
      durationMs: clock() - started,
    });
    return event;
  }
  log.info('user written', {
    sub: user.cognitoUserId,
    outcome: result.outcome,
    handleAdjusted: result.handleAdjusted,
    handleRefused: user.handleRefused === true,
    durationMs: clock() - started,
  });
  return event;
}
