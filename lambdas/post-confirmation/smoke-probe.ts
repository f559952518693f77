// The post-deploy smoke test's probe (`npm run smoke`): a synthetic sign-up whose sub no Cognito user can have
// (Cognito subs are plain UUIDs), so the function may treat it specially without anyone being able to ask for
// it. A wrapper around the use case: a probe that asks for the fallback path goes to the sync queue from this
// function's role, through its network path; every other event goes to the use case untouched.
import { UUID_SOURCE } from '../cognito/sub';
import { CONFIRM_SIGN_UP, triggerEnvelope } from '../cognito/trigger-event';
import { describeError } from '../runtime/errors';
import { isRecord } from '../runtime/records';
import { userFromAttributes } from '../users/user';
import { sendSignUp, type PostConfirmationDeps } from './core';

export const PROBE_PREFIX = 'smoke-probe-';
export const PROBE_PATTERN = new RegExp(`^${PROBE_PREFIX}${UUID_SOURCE}$`);
/** The client metadata with which the smoke asks for the fallback path instead of the database. */
export const FALLBACK_METADATA = { smoke: 'fallback' } as const;

export function isProbe(sub: string): boolean {
  return PROBE_PATTERN.test(sub);
}

/**
 * True only for a probe that asks for the fallback path. Client metadata is set by whoever calls Cognito (a
 * person signing up can send any), so it counts only together with a probe's sub, which no person can have.
 */
export function wantsFallbackProbe(sub: string, request: Record<string, unknown>): boolean {
  if (!isProbe(sub)) return false;
  const metadata = request.clientMetadata;
  return isRecord(metadata) && metadata.smoke === FALLBACK_METADATA.smoke;
}

/** A fallback probe's sign-up, or undefined for every other event (malformed ones included: the use case refuses them). */
function fallbackProbeAttributes(event: unknown): Record<string, unknown> | undefined {
  if (!isRecord(event) || event.triggerSource !== CONFIRM_SIGN_UP || !isRecord(event.request)) return undefined;
  const { request } = event;
  const attributes = isRecord(request.userAttributes) ? request.userAttributes : undefined;
  if (typeof attributes?.sub !== 'string' || !wantsFallbackProbe(attributes.sub, request)) return undefined;
  return attributes;
}

export type PostConfirmationUseCase = <E>(event: E, deps: PostConfirmationDeps) => Promise<E>;

/**
 * Sends a fallback probe to the sync queue instead of the database, and passes every other event to `useCase`.
 * The writer applies the probe like any other sign-up (and meets the probe's tombstone if the erase came first).
 */
export function withSmokeProbe(useCase: PostConfirmationUseCase): PostConfirmationUseCase {
  // Not async itself: every sign-up passes through here, and an async wrapper that returns the use case's promise
  // adds a promise of its own and the microtask turns of resolving one promise with another to each one.
  return <E>(event: E, deps: PostConfirmationDeps): Promise<E> => {
    const attributes = fallbackProbeAttributes(event);
    return attributes === undefined ? useCase(event, deps) : handleProbe(event, attributes, deps);
  };
}

/** The fallback probe: to the sync queue from this function's role, or skipped where there is none. */
async function handleProbe<E>(event: E, attributes: Record<string, unknown>, deps: PostConfirmationDeps): Promise<E> {
  const clock = deps.clock ?? Date.now;
  const started = clock();
  const { triggerSource, event: envelope } = triggerEnvelope(event);
  const user = userFromAttributes(attributes);
  const log = deps.logger.child({ triggerSource });
  if (deps.fallback === undefined) {
    log.info('smoke probe: no sync queue here', { sub: user.cognitoUserId, outcome: 'skipped', probe: true });
    return event;
  }
  try {
    await sendSignUp(deps.fallback, { triggerSource, event: envelope, user }, deps);
  } catch (queueError) {
    const queue = describeError(queueError);
    // No failureClass: the database is not involved, and a smoke run must not trip the database alarms.
    log.error('smoke probe: the sync queue refused the message', {
      sub: user.cognitoUserId,
      outcome: 'failed',
      probe: true,
      queueErrorName: queue.errorName,
      queueErrorCode: queue.errorCode,
      durationMs: clock() - started,
    });
    throw queueError;
  }
  log.info('smoke probe queued for the writer', {
    sub: user.cognitoUserId,
    outcome: 'queued',
    probe: true,
    durationMs: clock() - started,
  });
  return event;
}
