// public.users in PostgreSQL: the one upsert statement and the handle lookup, behind the users-repository ports.
import { errorCode, SQLSTATE } from '../../postgres/error-codes';
import type { Queryable } from '../../postgres/queryable';
import { handleCandidates, type NewUser } from '../user';
import type { HandleDirectory, UpsertOutcome, UpsertResult, UsersRepository } from '../users-repository';

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
  return errorCode(error) === SQLSTATE.UNIQUE_VIOLATION && (error as { constraint?: unknown }).constraint === HANDLE_CONSTRAINT;
}

/**
 * Inserts the user, or refreshes email and name of the row with the same cognito_user_id. One statement per
 * attempt, so an attempt either commits whole or not at all; a retried event changes nothing.
 * An existing user's handle is never changed here.
 */
export async function upsertUser(db: Queryable, user: NewUser): Promise<UpsertResult> {
  const candidates = [...handleCandidates(user.handle, user.cognitoUserId), null];
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

export function createHandleDirectory(db: Queryable): HandleDirectory {
  return { isTaken: (handle) => isHandleTaken(db, handle) };
}

/**
 * Whether any user holds the handle, ignoring case as the unique index does (and using that index). Only a
 * hint for the PreSignUp check: between it and the insert another sign-up may take the handle, which the
 * handle rule (handleCandidates) then resolves.
 */
export async function isHandleTaken(db: Queryable, handle: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM public.users WHERE lower(handle) = lower($1) LIMIT 1', [handle]);
  return rows.length > 0;
}
