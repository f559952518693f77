// The ports the use cases write and read users through; postgres/postgres-users.ts is the adapter.
import type { NewUser } from './user';

export type UpsertOutcome = 'inserted' | 'updated' | 'unchanged';

export interface UpsertResult {
  readonly outcome: UpsertOutcome;
  /** True when the requested handle was taken and the row got a suffixed (or no) handle instead. */
  readonly handleAdjusted: boolean;
}

export interface UsersRepository {
  upsert(user: NewUser): Promise<UpsertResult>;
}

/** Whether a handle is held by any user, ignoring case: the PreSignUp check's only question. */
export interface HandleDirectory {
  isTaken(handle: string): Promise<boolean>;
}
