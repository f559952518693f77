// The ports the use cases write and read users through; postgres/postgres-users.ts is the adapter, over the
// sync.* functions of sql/functions (no function role holds a table privilege).
import type { PoolUser } from '../cognito/pool-user';
import type { NewUser } from './user';

import type { ErasurePolicy } from './erasure-policy';
import type { ApplyOutcome, EraseOutcome, SetGroupsOutcome, SignUpOutcome } from './outcomes';

// The outcome types live with their lists in ./outcomes; exported here too, beside the ports that return them.
export type { ApplyOutcome, EraseOutcome, SetGroupsOutcome, SignUpOutcome } from './outcomes';

export type { ErasurePolicy } from './erasure-policy';

/**
 * One user's state as sync.apply_users takes it (sql/functions/sync/apply_users.sql documents each field): what
 * the writer and the reconcile both write.
 */
export interface UserState {
  readonly sub: string;
  readonly email: string | null;
  readonly name: string | null;
  /** The requested handle for an existing row (null keeps the row's handle). */
  readonly handle: string | null;
  /** The handle rule's candidates for a new row, in order. */
  readonly handleCandidates: readonly (string | null)[];
  readonly enabled: boolean;
  /** ISO 8601, Cognito's UserLastModifiedDate. */
  readonly modifiedAt: string | null;
  /** ISO 8601: when the state was read from the pool, the order key. */
  readonly readAt: string;
  /** In the pool but not to be written (unconfirmed, or attributes that do not validate): only never pruned. */
  readonly seenOnly: boolean;
}

export interface WriteOptions {
  /** Epoch ms by which the write must have answered: the event's one deadline. */
  readonly deadline?: number;
}

export interface SignUpResult {
  readonly outcome: SignUpOutcome;
  /** True when the requested handle was taken and the row got a later candidate (or no handle) instead. */
  readonly handleAdjusted: boolean;
}

export interface ApplyResult {
  readonly outcome: ApplyOutcome;
  readonly errorCode?: string;
}

/** What the post-confirmation trigger may do: sign a user up, in one round trip (signup_writer). */
export interface SignUpWriter {
  /** `readAt`: when this state of the user was read (the trigger's start, a queued message's send time). */
  signUp(user: NewUser, readAt: Date, options?: WriteOptions): Promise<SignUpResult>;
}

/** What the one asynchronous writer may do (sync_writer). */
export interface SyncWriter extends SignUpWriter {
  /** Writes the pool's state of one user as read at `readAt`, unless the row holds a later one. */
  apply(user: PoolUser, readAt: Date): Promise<ApplyResult>;
  erase(sub: string, policy: ErasurePolicy): Promise<EraseOutcome>;
  /**
   * Replaces the user's memberships with `groups`, their whole list as the pool held it at `readAt`, unless a
   * later list was written (sync.set_user_groups). Throws UserRefusedError when the database refuses the list.
   */
  setGroups(sub: string, groups: readonly string[], readAt: Date): Promise<SetGroupsOutcome>;
  /** Removes the memberships of a group the pool no longer has, seen before `readAt`; how many went. */
  deleteGroup(group: string, readAt: Date): Promise<number>;
}

/** Whether a handle is held by any user, ignoring case: the PreSignUp check's only question (handle_checker). */
export interface HandleDirectory {
  isTaken(handle: string): Promise<boolean>;
}

/**
 * The database refused this user's values (a constraint, a value it cannot store): the same user fails the
 * same way on every retry. Names the sub and the SQLSTATE, never a value.
 */
export class UserRefusedError extends Error {
  override readonly name = 'UserRefusedError';
  constructor(
    readonly sub: string,
    readonly code: string,
    readonly constraint?: string,
  ) {
    super(
      `The database refused user ${sub} (SQLSTATE ${code}${constraint === undefined ? '' : `, constraint ${constraint}`})`,
    );
  }
}
