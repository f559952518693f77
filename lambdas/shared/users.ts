// Cognito user attributes -> a public.users row: validation, the handle rule and the one upsert statement.
// Shared by the post-confirmation trigger and `users reconcile`, so both map and write users the same way.
import { InvalidEventError } from './errors';

export interface NewUser {
  readonly cognitoUserId: string;
  readonly email: string | null;
  readonly displayName: string | null;
  readonly handle: string | null;
}

/** The smallest part of `pg` the repository needs, so that a Client, a Pool or a wrapper can serve. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[] }>;
}

export type UpsertOutcome = 'inserted' | 'updated' | 'unchanged';

export interface UpsertResult {
  readonly outcome: UpsertOutcome;
  /** True when the requested handle was taken and the row got a suffixed (or no) handle instead. */
  readonly handleAdjusted: boolean;
}

export interface UsersRepository {
  upsert(user: NewUser): Promise<UpsertResult>;
}

/** Cognito's own upper bound for an attribute value; anything longer did not come from Cognito. */
export const MAX_ATTRIBUTE_LENGTH = 2048;
/** Cognito subs are UUIDs; this admits any opaque id but nothing that could forge a log line. */
export const SUB_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

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

/** The one upsert statement; exported so the benchmark can time it bare, the floor the handler is held to. */
export const UPSERT_USER = `
INSERT INTO public.users AS u (cognito_user_id, email, display_name, handle)
VALUES ($1, $2, $3, $4)
ON CONFLICT (cognito_user_id) DO UPDATE
  SET email = EXCLUDED.email, display_name = EXCLUDED.display_name
  WHERE (u.email, u.display_name) IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.display_name)
RETURNING (xmax = 0) AS inserted`;

const HANDLE_CONSTRAINT = 'users_handle_lower_key';

function isHandleConflict(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error as { code?: unknown }).code === '23505' &&
    (error as { constraint?: unknown }).constraint === HANDLE_CONSTRAINT
  );
}

/**
 * Inserts the user, or refreshes email and name of the row with the same cognito_user_id. One statement per
 * attempt, so an attempt either commits whole or not at all; a retried event changes nothing.
 * An existing user's handle is never changed here.
 */
export async function upsertUser(db: Queryable, user: NewUser): Promise<UpsertResult> {
  const candidates = handleCandidates(user.handle, user.cognitoUserId);
  for (const [index, handle] of candidates.entries()) {
    try {
      const { rows } = await db.query<{ inserted: boolean }>(UPSERT_USER, [
        user.cognitoUserId,
        user.email,
        user.displayName,
        handle,
      ]);
      const outcome: UpsertOutcome = rows.length === 0 ? 'unchanged' : rows[0]?.inserted ? 'inserted' : 'updated';
      return { outcome, handleAdjusted: index > 0 && outcome === 'inserted' };
    } catch (error) {
      if (!isHandleConflict(error) || index === candidates.length - 1) throw error;
    }
  }
  // Unreachable: the last candidate is null, which the handle index never rejects.
  throw new Error('no handle candidate could be stored');
}

export function createUsersRepository(db: Queryable): UsersRepository {
  return { upsert: (user) => upsertUser(db, user) };
}

/**
 * Whether any user holds the handle, ignoring case as the unique index does (and using that index). Only a
 * hint for the PreSignUp check: between it and the insert another sign-up may take the handle, which the
 * handle rule above then resolves.
 */
export async function isHandleTaken(db: Queryable, handle: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM public.users WHERE lower(handle) = lower($1) LIMIT 1', [handle]);
  return rows.length > 0;
}
