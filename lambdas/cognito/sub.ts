// The shape of a sub, in one place: checked before one is written, queued, logged or sent to AWS.

/**
 * Any id a user may be keyed by. Cognito's subs are UUIDs; this admits any opaque id (1-128 of A-Z a-z 0-9
 * . _ : -) but nothing that could forge a log line.
 */
export const SUB_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** A UUID as Cognito writes a sub: lower-case hex. */
export const UUID_SOURCE = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * A sub as Cognito makes it: a UUID. A user name is taken for a sub only when it has this shape: in this
 * pool (email sign-in) Cognito makes the user name the sub, and in a pool where people choose their user
 * name a name like `jane.doe` (personal data) must never be mistaken for an id and logged.
 */
export const COGNITO_SUB_PATTERN = new RegExp(`^${UUID_SOURCE}$`, 'i');

export function isSub(value: unknown): value is string {
  return typeof value === 'string' && SUB_PATTERN.test(value);
}

export function isCognitoSub(value: unknown): value is string {
  return typeof value === 'string' && COGNITO_SUB_PATTERN.test(value);
}

/** A value that is not a sub was about to be sent to the pool as one. Names no value. */
export class NotASubError extends Error {
  override readonly name = 'NotASubError';
  constructor() {
    super('not a sub: 1-128 of A-Z a-z 0-9 . _ : - expected');
  }
}

/**
 * ListUsers' filter that finds the user with this sub: `sub = "<sub>"`. The sub is checked against SUB_PATTERN
 * first, which admits no quotation mark or backslash; they would be escaped with a backslash anyway, as the
 * filter grammar asks, so that a value can never end the quoted string and add a clause.
 */
export function subFilter(sub: string): string {
  if (!isSub(sub)) throw new NotASubError();
  return `sub = "${sub.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
