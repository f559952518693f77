// Cognito user attributes -> a public.users row: validation and the handle rule. Shared by the post-confirmation
// trigger, the replay function and `users reconcile`, so all of them map users the same way.
import { SUB_PATTERN } from '../cognito/sub';
import { InvalidEventError } from '../runtime/errors';
import { isRecord } from '../runtime/records';

export interface NewUser {
  readonly cognitoUserId: string;
  readonly email: string | null;
  readonly displayName: string | null;
  readonly handle: string | null;
  /**
   * Present (true) only when the pool held a handle outside HANDLE_PATTERN, stored as null instead: the caller
   * counts it and logs it by sub. Absent for every other user, so rows built by hand need not say.
   */
  readonly handleRefused?: true;
}

/** The handle a person may have: 3 to 32 ASCII letters, digits or underscores. The database CHECK is the same. */
export const HANDLE_PATTERN = /^[A-Za-z0-9_]{3,32}$/;
const HANDLE_MAX_LENGTH = 32;

/** Cognito's own upper bound for an attribute value; anything longer did not come from Cognito. */
export const MAX_ATTRIBUTE_LENGTH = 2048;

function checkText(field: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string')
    throw new InvalidEventError(field, `must be a string, got ${Array.isArray(value) ? 'array' : typeof value}`);
  if (value.length > MAX_ATTRIBUTE_LENGTH)
    throw new InvalidEventError(field, `is longer than ${MAX_ATTRIBUTE_LENGTH} characters`);
  // PostgreSQL text cannot hold NUL, and a lone surrogate would be silently rewritten to U+FFFD on the wire.
  if (value.includes('\u0000'))
    throw new InvalidEventError(field, 'contains a NUL character, which PostgreSQL cannot store');
  if (!value.isWellFormed()) throw new InvalidEventError(field, 'is not well-formed Unicode (lone surrogate)');
  return value === '' ? null : value;
}

/**
 * Validates Cognito `userAttributes` and maps them to a row. Throws InvalidEventError naming the field for a
 * malformed event. A well-formed handle outside HANDLE_PATTERN is no reason to lose the user: it becomes no
 * handle, with `handleRefused` set. Cognito lets a user set preferred_username to anything (PreSignUp skips
 * federated sign-ups, and a later change passes no trigger at all), and a handle such as 2048 CJK characters would
 * not even fit the unique index.
 */
export function userFromAttributes(attributes: unknown, path = 'request.userAttributes'): NewUser {
  if (!isRecord(attributes)) throw new InvalidEventError(path, 'must be an object');
  const sub = checkText(`${path}.sub`, attributes.sub);
  if (sub === null) throw new InvalidEventError(`${path}.sub`, 'is missing or empty');
  if (!SUB_PATTERN.test(sub))
    throw new InvalidEventError(`${path}.sub`, 'is not a Cognito user id (1-128 of A-Z a-z 0-9 . _ : -)');
  const email = checkText(`${path}.email`, attributes.email);
  const displayName = checkText(`${path}.name`, attributes.name);
  const handle = handleOf(`${path}.preferred_username`, attributes.preferred_username);
  return {
    cognitoUserId: sub,
    email,
    displayName,
    handle: handle === REFUSED ? null : handle,
    ...(handle === REFUSED ? { handleRefused: true as const } : {}),
  };
}

const REFUSED = Symbol('refused');

/** Only a non-string is malformed; any string outside the pattern (NUL, 10 MB, lone surrogates included) is refused. */
function handleOf(field: string, value: unknown): string | null | typeof REFUSED {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string')
    throw new InvalidEventError(field, `must be a string, got ${Array.isArray(value) ? 'array' : typeof value}`);
  return HANDLE_PATTERN.test(value) ? value : REFUSED;
}

/**
 * The handle rule's candidates for a new row, in order, every one inside HANDLE_PATTERN: the handle itself;
 * the handle (cut to fit) with `_` and the first 8 alphanumerics of the sub; then `u_` and the sub's first 30
 * (a UUID sub keeps 120 of its 122 bits); no handle is the caller's last resort, when all are taken. Deterministic,
 * so a retried event asks for the same handles in the same order, and nobody is lost. Nothing to try when
 * no (valid) handle was asked for: the user gets no handle rather than an invented one.
 */
export function handleCandidates(handle: string | null, sub: string): string[] {
  if (handle === null || !HANDLE_PATTERN.test(handle)) return [];
  const id = sub.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
  const suffix = `_${id.slice(0, 8)}`;
  const candidates = [
    handle,
    `${handle.slice(0, HANDLE_MAX_LENGTH - suffix.length)}${suffix}`,
    `u_${id.slice(0, HANDLE_MAX_LENGTH - 2)}`,
  ];
  // A short sub can make a candidate too short or equal to an earlier one; drop those rather than store them.
  return [...new Set(candidates)].filter((candidate) => HANDLE_PATTERN.test(candidate));
}
