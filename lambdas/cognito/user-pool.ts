// The pool as the reconcile reads it: ListUsers pages at a share of the account-wide quota, and one user by sub
// (findBySub, also a ListUsers call). What comes back is Cognito's own user shape; the reconcile maps it with
// poolUserFrom.
import {
  ListUsersCommand,
  type CognitoIdentityProviderClient,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { systemClock, type Clock } from '../runtime/clock';
import { RateLimiter } from '../runtime/rate-limiter';
import { findBySub } from './find-by-sub';
import type { CognitoUserShape } from './pool-user';

/** ListUsers' largest page. */
export const LIST_USERS_PAGE_SIZE = 60;
/** ListUsers: 30 requests/s for the whole account and region, shared with every pool and app, not adjustable. */
export const LIST_USERS_ACCOUNT_QUOTA = 30;
/** The reconcile's default share of that quota: what leaves room for everything else in the account. */
export const DEFAULT_LIST_USERS_RATE = 5;

/** The pool no longer accepts the token the run saved (tokens expire): the run must read again from page 1. */
export class PaginationTokenRefusedError extends Error {
  override readonly name = 'PaginationTokenRefusedError';
  constructor() {
    super('The user pool refused the saved pagination token (expired or not valid for this pool)');
  }
}

export interface UserPage {
  readonly users: readonly UserType[];
  /** The token of the next page; undefined on the last page. */
  readonly nextToken: string | undefined;
  /** When the request was sent (epoch ms): the read time of every state on the page. */
  readonly readAt: number;
}

/**
 * What a user check found, read at `readAt` (epoch ms): Cognito's shape, unmapped (the caller maps it with
 * poolUserFrom, and a user whose attributes do not validate still exists), or 'absent'.
 */
export interface UserCheck {
  readonly user: CognitoUserShape | 'absent';
  readonly readAt: number;
}

/** The reconcile's port on the pool. */
export interface PoolReader {
  /** One page of at most 60 users, from the start (token undefined) or from a saved token. */
  listPage(token: string | undefined): Promise<UserPage>;
  /** The pool's current state of one user, by sub (findBySub), or 'absent' when that lookup finds nobody. */
  checkUser(sub: string): Promise<UserCheck>;
}

export interface UserPoolOptions {
  readonly userPoolId: string;
  /** ListUsers requests/s, the pages and the prune's re-checks together. @default DEFAULT_LIST_USERS_RATE */
  readonly listRate?: number;
  /** @default systemClock */
  readonly clock?: Clock;
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/**
 * ListUsers over an SDK client, behind one rate limiter: a page and a re-check by sub are both ListUsers calls,
 * so they share the reconcile's one share of the account's ListUsers quota.
 */
export function cognitoPoolReader(client: CognitoIdentityProviderClient, options: UserPoolOptions): PoolReader {
  const clock = options.clock ?? systemClock;
  const listLimiter = new RateLimiter(options.listRate ?? DEFAULT_LIST_USERS_RATE, clock);
  return {
    async listPage(token) {
      await listLimiter.acquire();
      // Stamped before the request: a change that lands while it is in flight is then read later by whoever
      // reports it (an event re-reads the user), so the newer state always carries the later time.
      const readAt = clock.now();
      try {
        const result = await client.send(
          new ListUsersCommand({
            UserPoolId: options.userPoolId,
            Limit: LIST_USERS_PAGE_SIZE,
            ...(token !== undefined ? { PaginationToken: token } : {}),
          }),
        );
        return { users: result.Users ?? [], nextToken: result.PaginationToken || undefined, readAt };
      } catch (error) {
        // Cognito answers an expired or foreign token with InvalidParameterException ("Paging marker ... is
        // invalid for request"); without a token the same exception is a real fault and goes up as it is.
        if (token !== undefined && isNamed(error, 'InvalidParameterException')) throw new PaginationTokenRefusedError();
        throw error;
      }
    },
    async checkUser(sub) {
      await listLimiter.acquire();
      // Stamped before the request, as a page is: a change made while it is in flight carries a later time.
      const readAt = clock.now();
      const user = await findBySub(client, options.userPoolId, sub);
      return { user: user ?? 'absent', readAt };
    },
  };
}
