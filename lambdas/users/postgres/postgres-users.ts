// public.users in PostgreSQL, written only through the sync.* functions (SECURITY DEFINER, 0003), behind the
// users-repository ports: one statement per write, so a write commits whole or not at all.
import type { PoolUser } from '../../cognito/pool-user';
import { userStateOf } from '../user-state';
import { errorCode, SQLSTATE } from '../../postgres/error-codes';
import type { Queryable } from '../../postgres/queryable';
import { handleCandidates, type NewUser } from '../user';
import {
  UserRefusedError,
  type ApplyOutcome,
  type ApplyResult,
  type EraseOutcome,
  type ErasurePolicy,
  type HandleDirectory,
  type SetGroupsOutcome,
  type SignUpOutcome,
  type SignUpResult,
  type SignUpWriter,
  type SyncWriter,
  type UserState,
  type WriteOptions,
} from '../users-repository';

/** The post-confirmation write; exported for the benchmark, whose connect-per-call layout runs it bare. */
export const SIGN_UP = 'SELECT outcome, handle_adjusted FROM sync.sign_up($1, $2, $3, $4::text[], $5::timestamptz)';
/**
 * The sign-up runs as a named prepared statement: a warm container's connection parses and plans it once, and
 * every later sign-up is bind and execute only (pg re-prepares it on a new connection by itself).
 */
export const SIGN_UP_STATEMENT = 'sync_sign_up';
export const APPLY_USERS = 'SELECT cognito_user_id, outcome, error_code FROM sync.apply_users($1::jsonb)';
export const ERASE_USER = 'SELECT sync.erase_user($1, $2) AS outcome';
const HANDLE_TAKEN = 'SELECT sync.handle_taken($1) AS taken';

// The SQLSTATEs sync.apply_users refuses one user for (data exception, integrity constraint, program limit, and
// a read_at ahead of the database clock): the same user fails the same way on a retry, so sign_up's are no
// reason to retry either.
const REFUSED_CLASSES = ['22', '23', '54'];

function refusal(error: unknown, sub: string): UserRefusedError | undefined {
  const code = errorCode(error);
  if (code === undefined || code.length !== 5) return undefined;
  if (code !== SQLSTATE.readAtAhead && !REFUSED_CLASSES.includes(code.slice(0, 2))) return undefined;
  const constraint = (error as { constraint?: unknown }).constraint;
  return new UserRefusedError(sub, code, typeof constraint === 'string' ? constraint : undefined);
}

/**
 * Signs the user up in one round trip: sync.sign_up inserts the row, trying the handle rule's candidates in order
 * inside the database, and leaves an existing row as it is ('exists'). Throws UserRefusedError when the database
 * refuses this user's values. `db` must take QueryOptions (a LazyConnection does; a bare pg Client would read a
 * third argument as a callback).
 */
export async function signUpUser(
  db: Queryable,
  user: NewUser,
  readAt: Date,
  options: WriteOptions = {},
): Promise<SignUpResult> {
  const values = [
    user.cognitoUserId,
    user.email,
    user.displayName,
    handleCandidates(user.handle, user.cognitoUserId),
    readAt.toISOString(),
  ];
  let rows: { outcome: SignUpOutcome; handle_adjusted: boolean }[];
  try {
    ({ rows } = await db.query<{ outcome: SignUpOutcome; handle_adjusted: boolean }>(SIGN_UP, values, {
      name: SIGN_UP_STATEMENT,
      ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
    }));
  } catch (error) {
    throw refusal(error, user.cognitoUserId) ?? error;
  }
  const row = rows[0];
  if (row === undefined) throw new Error('sync.sign_up returned no row');
  return { outcome: row.outcome, handleAdjusted: row.handle_adjusted };
}

/** The JSON array sync.apply_users takes (its element format is documented in 0003_user_lifecycle.sql). */
export function usersJson(users: readonly UserState[]): string {
  return JSON.stringify(
    users.map((user) => ({
      sub: user.sub,
      email: user.email,
      name: user.name,
      // Null keeps the row's handle: a handle outside the rule never replaces a valid one.
      handle: user.handle,
      handle_candidates: user.handleCandidates,
      enabled: user.enabled,
      modified_at: user.modifiedAt,
      read_at: user.readAt,
      seen_only: user.seenOnly,
    })),
  );
}

export async function applyUser(db: Queryable, user: PoolUser, readAt: Date): Promise<ApplyResult> {
  // The writer never marks a reconcile run: a state outside SYNCED_STATUSES is skipped before it gets here.
  const { rows } = await db.query<{ outcome: ApplyOutcome; error_code: string | null }>(APPLY_USERS, [
    usersJson([{ ...userStateOf(user, readAt), seenOnly: false }]),
  ]);
  const row = rows[0];
  if (row === undefined) throw new Error('sync.apply_users returned no row');
  return row.error_code === null ? { outcome: row.outcome } : { outcome: row.outcome, errorCode: row.error_code };
}

export async function eraseUser(db: Queryable, sub: string, policy: ErasurePolicy): Promise<EraseOutcome> {
  const { rows } = await db.query<{ outcome: EraseOutcome }>(ERASE_USER, [sub, policy]);
  const row = rows[0];
  if (row === undefined) throw new Error('sync.erase_user returned no row');
  return row.outcome;
}

/** sync.set_user_groups: the user's whole group list as read at `readAt`; refusals as UserRefusedError. */
export async function setUserGroups(
  db: Queryable,
  sub: string,
  groups: readonly string[],
  readAt: Date,
): Promise<SetGroupsOutcome> {
  let rows: { outcome: SetGroupsOutcome }[];
  try {
    ({ rows } = await db.query<{ outcome: SetGroupsOutcome }>(
      'SELECT sync.set_user_groups($1, $2::text[], $3::timestamptz) AS outcome',
      [sub, [...groups], readAt.toISOString()],
    ));
  } catch (error) {
    throw refusal(error, sub) ?? error;
  }
  const row = rows[0];
  if (row === undefined) throw new Error('sync.set_user_groups returned no row');
  return row.outcome;
}

/** sync.delete_group: the group's memberships seen before `readAt` go, and the deletion is remembered. */
export async function deleteGroup(db: Queryable, group: string, readAt: Date): Promise<number> {
  const { rows } = await db.query<{ removed: string }>('SELECT sync.delete_group($1, $2::timestamptz) AS removed', [
    group,
    readAt.toISOString(),
  ]);
  return Number(rows[0]?.removed ?? 0);
}

/**
 * Whether any user holds the handle, ignoring case (sync.handle_taken, through the unique index). Only a hint
 * for the PreSignUp check: between it and the sign-up another one may take the handle, which the handle rule
 * then resolves.
 */
export async function isHandleTaken(db: Queryable, handle: string): Promise<boolean> {
  const { rows } = await db.query<{ taken: boolean }>(HANDLE_TAKEN, [handle]);
  return rows[0]?.taken === true;
}

export function createSignUpWriter(db: Queryable): SignUpWriter {
  return { signUp: (user, readAt, options) => signUpUser(db, user, readAt, options) };
}

export function createSyncWriter(db: Queryable): SyncWriter {
  return {
    signUp: (user, readAt, options) => signUpUser(db, user, readAt, options),
    apply: (user, readAt) => applyUser(db, user, readAt),
    erase: (sub, policy) => eraseUser(db, sub, policy),
    setGroups: (sub, groups, readAt) => setUserGroups(db, sub, groups, readAt),
    deleteGroup: (group, readAt) => deleteGroup(db, group, readAt),
  };
}

export function createHandleDirectory(db: Queryable): HandleDirectory {
  return { isTaken: (handle) => isHandleTaken(db, handle) };
}
