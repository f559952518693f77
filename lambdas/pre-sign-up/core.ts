// The PreSignUp use case, free of AWS: refuse a handle that is malformed or already taken before the account
// exists, so that most collisions never reach the post-confirmation handle rule. Advisory only: when the
// database cannot answer, the sign-up goes ahead and the handle rule decides at confirmation.
import {
  DatabaseUnavailableError,
  describeError,
  HandleRefusedError,
  InvalidEventError,
  UnsupportedTriggerError,
} from '../shared/errors';
import type { Logger } from '../shared/logger';

export const SIGN_UP = 'PreSignUp_SignUp';
export const ADMIN_CREATE_USER = 'PreSignUp_AdminCreateUser';
export const EXTERNAL_PROVIDER = 'PreSignUp_ExternalProvider';

/** The handle a person may ask for: 3 to 32 ASCII letters, digits or underscores. */
export const HANDLE_PATTERN = /^[A-Za-z0-9_]{3,32}$/;
export const INVALID_HANDLE_MESSAGE = 'The handle (preferred_username) must be 3 to 32 characters: letters A-Z, digits 0-9 or underscore.';
export const TAKEN_HANDLE_MESSAGE = 'The handle (preferred_username) is already taken. Choose another one.';

export interface HandleDirectory {
  isTaken(handle: string): Promise<boolean>;
}

export interface PreSignUpDeps {
  readonly handles: HandleDirectory;
  readonly logger: Logger;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Resolves to the event, unchanged (no auto-confirm, no auto-verify), or throws a HandleRefusedError. */
export async function handlePreSignUp<E>(event: E, deps: PreSignUpDeps): Promise<E> {
  if (!isRecord(event)) throw new InvalidEventError('event', 'must be an object');
  const { triggerSource } = event;
  if (typeof triggerSource !== 'string' || triggerSource === '') throw new InvalidEventError('triggerSource', 'is missing or not a string');
  const log = deps.logger.child({ triggerSource: triggerSource.slice(0, 64) });
  // A federated sign-in gets its attributes from the identity provider, not from the person: refusing them
  // would lock the person out with no way to fix it. The handle rule still applies at confirmation.
  if (triggerSource === EXTERNAL_PROVIDER) {
    log.info('federated sign-up; handle not checked', { outcome: 'skipped' });
    return event;
  }
  if (triggerSource !== SIGN_UP && triggerSource !== ADMIN_CREATE_USER) throw new UnsupportedTriggerError(triggerSource);
  const request = event.request;
  if (!isRecord(request)) throw new InvalidEventError('request', 'is missing or not an object');
  const attributes = request.userAttributes;
  if (!isRecord(attributes)) throw new InvalidEventError('request.userAttributes', 'must be an object');
  const handle = attributes.preferred_username;
  if (handle === undefined || handle === null || handle === '') {
    log.info('no handle asked for', { outcome: 'allowed' });
    return event;
  }
  if (typeof handle !== 'string') throw new InvalidEventError('request.userAttributes.preferred_username', 'must be a string');
  if (!HANDLE_PATTERN.test(handle)) {
    log.info('sign-up refused: handle is malformed', { outcome: 'refused', reason: 'invalid' });
    throw new HandleRefusedError('invalid', INVALID_HANDLE_MESSAGE);
  }
  let taken: boolean;
  try {
    taken = await deps.handles.isTaken(handle);
  } catch (error) {
    // Never block a sign-up on the database: the unique index and the handle rule are the real guard.
    const level = error instanceof DatabaseUnavailableError ? 'warn' : 'error';
    log[level]('handle not checked; sign-up allowed', { ...describeError(error), outcome: 'allowed_unchecked' });
    return event;
  }
  if (taken) {
    log.info('sign-up refused: handle is taken', { outcome: 'refused', reason: 'taken' });
    throw new HandleRefusedError('taken', TAKEN_HANDLE_MESSAGE);
  }
  log.info('handle is free', { outcome: 'allowed' });
  return event;
}
