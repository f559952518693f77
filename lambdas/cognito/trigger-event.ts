// The Cognito trigger envelope every trigger function checks first, and the trigger sources they serve.
import { InvalidEventError } from '../runtime/errors';
import { isRecord } from '../runtime/records';

export const CONFIRM_SIGN_UP = 'PostConfirmation_ConfirmSignUp';
export const CONFIRM_FORGOT_PASSWORD = 'PostConfirmation_ConfirmForgotPassword';
export const SIGN_UP = 'PreSignUp_SignUp';
export const ADMIN_CREATE_USER = 'PreSignUp_AdminCreateUser';
export const EXTERNAL_PROVIDER = 'PreSignUp_ExternalProvider';

export interface TriggerEnvelope {
  /** The event itself, known to be an object. */
  readonly event: Record<string, unknown>;
  /** Not yet known to be one this function serves. */
  readonly triggerSource: string;
  /** Its fields (userAttributes, ...) are still unchecked. */
  readonly request: Record<string, unknown>;
}

/** Checks the parts every trigger event has: the event is an object, triggerSource a non-empty string, request an object. */
export function triggerEnvelope(event: unknown): TriggerEnvelope {
  if (!isRecord(event)) throw new InvalidEventError('event', 'must be an object');
  const { triggerSource, request } = event;
  if (typeof triggerSource !== 'string' || triggerSource === '') {
    throw new InvalidEventError('triggerSource', 'is missing or not a string');
  }
  if (!isRecord(request)) throw new InvalidEventError('request', 'is missing or not an object');
  return { event, triggerSource, request };
}
