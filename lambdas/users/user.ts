// Cognito user attributes -> a public.users row: validation and the handle rule. Shared by the post-confirmation
// trigger, the replay function and `users reconcile`, so all of them map users the same way.
import { InvalidEventError } from '../runtime/errors';
import { isRecord } from '../runtime/records';

export interface NewUser {
  readonly cognitoUserId: string;
  readonly email: string | null;
  readonly displayName: string | null;
  readonly handle: string | null;
}

/** Cognito's own upper bound for an attribute value; anything longer did not come from Cognito. */
export const MAX_ATTRIBUTE_LENGTH = 2048;
/** Cognito subs are UUIDs; this admits any opaque id but nothing that could forge a log line. */
export const SUB_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function checkText(field: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new InvalidEventError(field, `must be a string, got ${Array.isArray(value) ? 'array' : typeof value}`);
  if (value.length > MAX_ATTRIBUTE_LENGTH) throw new InvalidEventError(field, `is longer than ${MAX_ATTRIBUTE_LENGTH} characters`);
  // PostgreSQL text cannot hold NUL, and a lone surrogate would be silently rewritten to U+FFFD on the wire.
  if (value.includes('\u0000')) throw new InvalidEventError(field, 'contains a NUL character, which PostgreSQL cannot store');
  if (!value.isWellFormed()) throw new InvalidEventError(field, 'is not well-formed Unicode (lone surrogate)');
  return value === '' ? null : value;
}

/** Validates Cognito `userAttributes` and maps them to a row. Throws InvalidEventError naming the field. */
export function userFromAttributes(attributes: unknown, path = 'request.userAttributes'): NewUser {
  if (!isRecord(attributes)) throw new InvalidEventError(path, 'must be an object');
  const sub = checkText(`${path}.sub`, attributes.sub);
  if (sub === null) throw new InvalidEventError(`${path}.sub`, 'is missing or empty');
  if (!SUB_PATTERN.test(sub)) throw new InvalidEventError(`${path}.sub`, 'is not a Cognito user id (1-128 of A-Z a-z 0-9 . _ : -)');
  return {
    cognitoUserId: sub,
    email: checkText(`${path}.email`, attributes.email),
    displayName: checkText(`${path}.name`, attributes.name),
    handle: checkText(`${path}.preferred_username`, attributes.preferred_username),
  };
}

/**
 * The handle rule: the requested handle if no other user holds it (ignoring case); otherwise the handle
 * with `_` and the first 8 hex digits of the sub; then with the whole sub; and as a last resort no handle.
 * Deterministic, so a retried event asks for the same handles in the same order, and nobody is lost.
 */
export function handleCandidates(handle: string | null, sub: string): (string | null)[] {
  if (handle === null) return [null];
  const id = sub.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
  return [handle, `${handle}_${id.slice(0, 8)}`, `${handle}_${id}`, null];
}

/** The handle a person may ask for at sign-up: 3 to 32 ASCII letters, digits or underscores. */
export const HANDLE_PATTERN = /^[A-Za-z0-9_]{3,32}$/;
