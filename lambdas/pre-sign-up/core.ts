// The PreSignUp use case, free of AWS: refuse a handle that is malformed or already taken before the account
// exists, so that most collisions never reach the post-confirmation handle rule. Advisory only: when the
// database cannot answer, the sign-up goes ahead and the handle rule decides at confirmation.
import { ADMIN_CREATE_USER, EXTERNAL_PROVIDER, SIGN_UP, triggerEnvelope } from '../cognito/trigger-event';
import { describeError, InvalidEventError } from '../runtime/errors';
import { DatabaseUnavailableError } from '../postgres/errors';
import { HandleRefusedError, UnsupportedTriggerError } from '../cognito/errors';
import type { Logger } from '../runtime/logger';
import { isRecord } from '../runtime/records';
import { HANDLE_PATTERN } from '../users/user';
import type { HandleDirectory } from '../users/users-repository';
import { linkFederatedUser, type IdentityLinker } from './linking';

// No closing full stop: Cognito ends "<function> failed with error <message>" with its own.
export const INVALID_HANDLE_MESSAGE =
  'The handle (preferred_username) must be 3 to 32 characters: letters A-Z, digits 0-9 or underscore';
export const TAKEN_HANDLE_MESSAGE = 'The handle (preferred_username) is already taken; choose another one';

/** `-c linkFederatedByEmail=true`: a first federated sign-in is linked to the matching local user. */
export interface LinkingDeps {
  readonly linker: IdentityLinker;
  /** How long linking may take before the sign-in goes ahead unlinked: well inside Cognito's 5 s. */
  readonly budgetMs: number;
  readonly clock?: () => number;
}

export interface PreSignUpDeps {
  readonly handles: HandleDirectory;
  readonly logger: Logger;
  /** @default no linking: a federated sign-in always becomes a user of its own */
  readonly linking?: LinkingDeps;
}

/** Resolves to the event, unchanged (no auto-confirm, no auto-verify), or throws a HandleRefusedError. */
export async function handlePreSignUp<E>(event: E, deps: PreSignUpDeps): Promise<E> {
  const { triggerSource, request, event: envelope } = triggerEnvelope(event);
  const log = deps.logger.child({ triggerSource: triggerSource.slice(0, 64) });
  // A federated sign-in gets its attributes from the identity provider, not from the person: refusing them
  // would lock the person out with no way to fix it, so nothing here throws for one. Its preferred_username is
  // the provider's email (lib/constructs/federation.ts), never a handle; the handle rule applies at confirmation.
  if (triggerSource === EXTERNAL_PROVIDER) {
    const { linking } = deps;
    if (linking === undefined) {
      log.info('federated sign-up; handle not checked', { outcome: 'skipped' });
      return event;
    }
    const clock = linking.clock ?? Date.now;
    // linkFederatedUser resolves whatever happens; the catch is for a defect in it, which must not block either.
    await linkFederatedUser(envelope, {
      linker: linking.linker,
      logger: log,
      deadline: clock() + linking.budgetMs,
      clock,
    }).catch((error: unknown) => log.error('linking failed', { ...describeError(error), outcome: 'failed' }));
    return event;
  }
  if (triggerSource !== SIGN_UP && triggerSource !== ADMIN_CREATE_USER)
    throw new UnsupportedTriggerError(triggerSource);
  const attributes = request.userAttributes;
  if (!isRecord(attributes)) throw new InvalidEventError('request.userAttributes', 'must be an object');
  const handle = attributes.preferred_username;
  if (handle === undefined || handle === null || handle === '') {
    log.info('no handle asked for', { outcome: 'allowed' });
    return event;
  }
  if (typeof handle !== 'string')
    throw new InvalidEventError('request.userAttributes.preferred_username', 'must be a string');
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
