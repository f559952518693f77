// The pool as the reconcile reads it: ListUsers pages at a share of the account-wide quota, and AdminGetUser
// for one sub. What comes back is Cognito's own user shape; the reconcile maps it with poolUserFrom.
import {
  AdminGetUserCommand,
  ListUsersCommand,
  type CognitoIdentityProviderClient,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { systemClock, type Clock } from '../runtime/clock';
import { RateLimiter } from '../runtime/rate-limiter';
import type { CognitoUserShape } from './pool-user';

/** ListUsers' largest page. */
export const LIST_USERS_PAGE_SIZE = 60;
/** ListUsers: 30 requests/s for the whole account and region, shared with every pool and app, not adjustable. */
export const LIST_USERS_ACCOUNT_QUOTA = 30;
/** The reconcile's default share of that quota: what leaves room for everything else in the account. */
export const DEFAULT_LIST_USERS_RATE = 5;
/**
 * AdminGetUser allows 120 requests/s (adjustable), shared with the event function that re-reads each user
 * on every CloudTrail event; the prune's re-checks take a small share of it.
 */
export const DEFAULT_GET_USER_RATE = 10;

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
  /** The pool's current state of one user, by sub, or 'absent' when the pool says it does not exist. */
  checkUser(sub: string): Promise<UserCheck>;
}

export interface UserPoolOptions {
  readonly userPoolId: string;
  /** ListUsers requests/s. @default DEFAULT_LIST_USERS_RATE */
  readonly listRate?: number;
  /** AdminGetUser requests/s. @default DEFAULT_GET_USER_RATE */
  readonly getRate?: number;
  /** @default systemClock */
  readonly clock?: Clock;
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/** ListUsers and AdminGetUser over an SDK client, each behind its own rate limiter. */
export function cognitoPoolReader(client: CognitoIdentityProviderClient, options: UserPoolOptions): PoolReader {
  const clock = options.clock ?? systemClock;
  const listLimiter = new RateLimiter(options.listRate ?? DEFAULT_LIST_USERS_RATE, clock);
  const getLimiter = new RateLimiter(options.getRate ?? DEFAULT_GET_USER_RATE, clock);
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
      await getLimiter.acquire();
      const readAt = clock.now();
      try {
        // In this pool (email sign-in) the user name is the sub, and AdminGetUser accepts the sub as Username.
        const result = await client.send(new AdminGetUserCommand({ UserPoolId: options.userPoolId, Username: sub }));
        return { user: result, readAt };
      } catch (error) {
        if (isNamed(error, 'UserNotFoundException')) return { user: 'absent', readAt };
        throw error;
      }
    },
  };
}
