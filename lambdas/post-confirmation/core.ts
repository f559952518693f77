// The post-confirmation use case, free of AWS: validate the event, sign the user up, return the event.
import { CONFIRM_FORGOT_PASSWORD, CONFIRM_SIGN_UP, triggerEnvelope } from '../cognito/trigger-event';
import { describeError } from '../runtime/errors';
import { DatabaseUnavailableError, logLevelFor } from '../postgres/errors';
import { UnsupportedTriggerError } from '../cognito/errors';
import type { Logger } from '../runtime/logger';
import { signUpMessageFor } from '../sync/sign-up-message';
import type { SyncQueue } from '../sync/sync-queue';
import type { Now } from '../runtime/clock';
import { userFromAttributes, type NewUser } from '../users/user';
import type { SignUpResult, SignUpWriter } from '../users/users-repository';

export interface PostConfirmationDeps {
  readonly users: SignUpWriter;
  readonly logger: Logger;
  readonly clock?: Now;
  /**
   * Epoch ms by which everything this event does must be done: the statement and the fallback send share it.
   * @default no deadline of its own (the connection's per-statement budget, the queue's default timeout)
   */
  readonly deadline?: number;
  /**
   * The sync queue, where a sign-up goes when the database is unavailable, for the writer to apply later.
   * Without it (the local stack) the DatabaseUnavailableError is thrown, and Cognito reports the failure.
   */
  readonly fallback?: SyncQueue;
}

/** A confirmed sign-up on its way to the queue: its trigger source, the event it came in, the validated user. */
export interface QueuedSignUp {
  readonly triggerSource: string;
  readonly event: Record<string, unknown>;
  readonly user: NewUser;
}

/**
 * The one message a sign-up becomes when it goes to the queue (the database unavailable, or a smoke probe),
 * sent within what is left of the event's deadline.
 */
export function sendSignUp(
  queue: SyncQueue,
  signUp: QueuedSignUp,
  deps: Pick<PostConfirmationDeps, 'clock' | 'deadline'>,
): Promise<void> {
  const clock = deps.clock ?? Date.now;
  return queue.send(
    signUpMessageFor(signUp.triggerSource, signUp.event, signUp.user),
    deps.deadline === undefined ? {} : { timeoutMs: deps.deadline - clock() },
  );
}

export interface PostConfirmationEvent {
  readonly triggerSource: string;
  readonly request: { readonly userAttributes: Record<string, unknown> };
}

/**
 * Writes the confirmed user and resolves to the event, unchanged, as Cognito requires.
 * A forgot-password confirmation writes nothing. Anything else is refused with a typed error.
 * When the database is unavailable and the sync queue is configured, the validated user is queued for the
 * writer and the event returned: the sign-up is neither lost nor blocked. If the queue fails too, the
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
  let result: SignUpResult;
  try {
    // The state was read when Cognito invoked us: the order key against later changes of the same user.
    result = await deps.users.signUp(user, new Date(started), deadline === undefined ? {} : { deadline });
  } catch (error) {
    if (!(error instanceof DatabaseUnavailableError) || deps.fallback === undefined) throw error;
    const database = describeError(error);
    try {
      await sendSignUp(deps.fallback, { triggerSource, event: envelope, user }, deps);
    } catch (queueError) {
      // Neither store took the user: Cognito must report the failure, and `users reconcile` repairs the gap.
      const queue = describeError(queueError);
      log.error('database unavailable and the sync queue refused the sign-up', {
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
    // before the queue's deliveries run out.
    log[logLevelFor(error)]('database unavailable; sign-up queued for the writer', {
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
