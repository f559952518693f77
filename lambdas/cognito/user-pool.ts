// The pool as the reconcile reads it: ListUsers pages at a share of the account-wide quota, one user by sub
// (findBySub, also a ListUsers call), the pool's groups (ListGroups) and each group's members (ListUsersInGroup).
// What comes back is Cognito's own user shape; the reconcile maps it with poolUserFrom.
import {
  ListGroupsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
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

/** ListGroups' and ListUsersInGroup's largest page. */
export const GROUP_PAGE_SIZE = 60;
/**
 * ListGroups is in the UserPoolResourceRead category, where no one operation may exceed 5 requests/s for one
 * pool (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html, note 3): the reconcile's rate for
 * it is the smaller of its list rate and this. ListUsersInGroup is in the UserList category with ListUsers (30
 * requests/s for the account, not adjustable), so it shares the ListUsers limiter.
 */
export const LIST_GROUPS_POOL_RATE = 5;

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

/** One ListGroups page: the groups' names, read at `readAt` (epoch ms, stamped before the request). */
export interface GroupPage {
  readonly groups: readonly string[];
  readonly nextToken: string | undefined;
  readonly readAt: number;
}

/** The group a ListUsersInGroup asked for does not exist (any more): Cognito's ResourceNotFoundException. */
export class GroupNotFoundError extends Error {
  override readonly name = 'GroupNotFoundError';
  constructor() {
    super('The user pool has no such group (deleted while the reconcile read it)');
  }
}

/** The reconcile's port on the pool. */
export interface PoolReader {
  /** One page of at most 60 users, from the start (token undefined) or from a saved token. */
  listPage(token: string | undefined): Promise<UserPage>;
  /** The pool's current state of one user, by sub (findBySub), or 'absent' when that lookup finds nobody. */
  checkUser(sub: string): Promise<UserCheck>;
  /** One page of at most 60 of the pool's groups. */
  listGroups(token: string | undefined): Promise<GroupPage>;
  /** One page of at most 60 members of `group`; GroupNotFoundError when the pool has no such group. */
  listUsersInGroup(group: string, token: string | undefined): Promise<UserPage>;
}

export interface UserPoolOptions {
  readonly userPoolId: string;
  /**
   * ListUsers requests/s, the pages, the prune's re-checks and the groups' member pages together (one quota).
   * @default DEFAULT_LIST_USERS_RATE
   */
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
  const listRate = options.listRate ?? DEFAULT_LIST_USERS_RATE;
  const listLimiter = new RateLimiter(listRate, clock);
  const groupsLimiter = new RateLimiter(Math.min(listRate, LIST_GROUPS_POOL_RATE), clock);
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
    async listGroups(token) {
      await groupsLimiter.acquire();
      // Stamped before the request: the time the complete listing is "as of" for sync.prune_groups.
      const readAt = clock.now();
      const result = await client.send(
        new ListGroupsCommand({
          UserPoolId: options.userPoolId,
          Limit: GROUP_PAGE_SIZE,
          ...(token !== undefined ? { NextToken: token } : {}),
        }),
      );
      const groups = (result.Groups ?? []).flatMap((group) =>
        typeof group.GroupName === 'string' && group.GroupName !== '' ? [group.GroupName] : [],
      );
      return { groups, nextToken: result.NextToken || undefined, readAt };
    },
    async listUsersInGroup(group, token) {
      await listLimiter.acquire();
      // Stamped before the request, as a users page is: it becomes the memberships' seen_at.
      const readAt = clock.now();
      try {
        const result = await client.send(
          new ListUsersInGroupCommand({
            UserPoolId: options.userPoolId,
            GroupName: group,
            Limit: GROUP_PAGE_SIZE,
            ...(token !== undefined ? { NextToken: token } : {}),
          }),
        );
        return { users: result.Users ?? [], nextToken: result.NextToken || undefined, readAt };
      } catch (error) {
        // ListUsersInGroup answers ResourceNotFoundException for a group the pool does not have.
        if (isNamed(error, 'ResourceNotFoundException')) throw new GroupNotFoundError();
        throw error;
      }
    },
  };
}
