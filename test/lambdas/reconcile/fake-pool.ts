// An in-memory user pool behind aws-sdk-client-mock: ListUsers pages in sub order, live (a user added behind the
// reader's position is not listed, as in Cognito), tokens that can be made to expire, ListUsers filtered by
// `sub = "…"`, AdminGetUser by user name only (as Cognito: a federated user's name is not their sub); groups
// (ListGroups, ListUsersInGroup in pages of the same size, ResourceNotFoundException for a group it does not
// have); and a fake clock on which the rate limiter's sleeps take no real time.
import {
  AdminGetUserCommand,
  CognitoIdentityProviderClient,
  InvalidParameterException,
  ListGroupsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  ResourceNotFoundException,
  UserNotFoundException,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import type { Clock } from '../../../lambdas/runtime/clock';

export const START = Date.UTC(2026, 11, 1, 10, 0, 0);

export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(public time = START) {}
  now(): number {
    return this.time;
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += ms;
    return Promise.resolve();
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

export interface FakeUser {
  email?: string;
  name?: string;
  handle?: string;
  enabled: boolean;
  status: string;
  modified: Date;
  /** Cognito's user name. @default the sub (a local user of a pool that signs in by email) */
  userName?: string;
}

export function sub(n: number): string {
  return `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
}

export class FakePool {
  readonly users = new Map<string, FakeUser>();
  readonly cognito = new CognitoIdentityProviderClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
  });
  readonly mock = mockClient(this.cognito);
  /** Tokens of ListUsers requests, in order (undefined: a first page). */
  readonly listTokens: (string | undefined)[] = [];
  /** Subs asked for by ListUsers' filter, in order. */
  readonly getRequests: string[] = [];
  /** Users a listing leaves out while a lookup by sub still finds them (a listing that missed someone). */
  readonly unlisted = new Set<string>();
  /** Answers with the whole pool in one page whatever the Limit, as cognito-local does. */
  ignoresLimit = false;
  /** How many of the next requests with a token are refused, as Cognito refuses an expired one. */
  refuseNextTokens = 0;
  /** Groups by name, each its members' subs. */
  readonly groups = new Map<string, Set<string>>();
  /** Groups asked for by ListUsersInGroup, with the token of each request, in order. */
  readonly memberRequests: [string, string | undefined][] = [];
  /** Called before each ListUsersInGroup answer: a test changes the pool while the reconcile reads it. */
  onMemberPage: ((group: string) => void) | undefined;
  private readonly issued = new Set<string>();

  constructor(
    private readonly clock: FakeClock,
    public pageSize = 60,
  ) {
    this.install();
  }

  add(sub: string, fields: Partial<FakeUser> = {}): void {
    this.users.set(sub, { enabled: true, status: 'CONFIRMED', modified: new Date(this.clock.now()), ...fields });
  }

  change(sub: string, fields: Partial<FakeUser>): void {
    const user = this.users.get(sub);
    if (user === undefined) throw new Error(`no fake user ${sub}`);
    this.users.set(sub, { ...user, ...fields, modified: new Date(this.clock.now()) });
  }

  remove(sub: string): void {
    this.users.delete(sub);
    for (const members of this.groups.values()) members.delete(sub);
  }

  /** Makes the group if it is missing, and adds the users to it. */
  addToGroup(group: string, ...subs: string[]): void {
    const members = this.groups.get(group) ?? new Set<string>();
    for (const s of subs) members.add(s);
    this.groups.set(group, members);
  }

  removeFromGroup(group: string, sub: string): void {
    this.groups.get(group)?.delete(sub);
  }

  deleteGroup(group: string): void {
    this.groups.delete(group);
  }

  userType(sub: string): UserType {
    const user = this.users.get(sub);
    if (user === undefined) throw new Error(`no fake user ${sub}`);
    const attributes: Record<string, string | undefined> = {
      sub,
      email: user.email,
      name: user.name,
      preferred_username: user.handle,
    };
    return {
      Username: user.userName ?? sub,
      Enabled: user.enabled,
      UserStatus: user.status as UserType['UserStatus'],
      UserLastModifiedDate: user.modified,
      Attributes: Object.entries(attributes)
        .filter((entry): entry is [string, string] => entry[1] !== undefined)
        .map(([Name, Value]) => ({ Name, Value })),
    };
  }

  private install(): void {
    this.mock.on(ListUsersCommand).callsFake((input: { PaginationToken?: string; Limit?: number; Filter?: string }) => {
      if (input.Filter !== undefined) {
        const wanted = /^sub = "([^"\\]+)"$/.exec(input.Filter)?.[1];
        if (wanted === undefined) throw new InvalidParameterException({ message: 'Invalid filter', $metadata: {} });
        this.getRequests.push(wanted);
        return { Users: this.users.has(wanted) ? [this.userType(wanted)] : [] };
      }
      this.listTokens.push(input.PaginationToken);
      const expired = input.PaginationToken !== undefined && this.refuseNextTokens > 0;
      if (expired) this.refuseNextTokens -= 1;
      if (input.PaginationToken !== undefined && (expired || !this.issued.has(input.PaginationToken))) {
        throw new InvalidParameterException({ message: 'Paging marker is invalid for request', $metadata: {} });
      }
      const after = input.PaginationToken === undefined ? '' : input.PaginationToken.replace(/^after:/, '');
      const size = this.ignoresLimit ? Number.POSITIVE_INFINITY : Math.min(this.pageSize, input.Limit ?? 60);
      const subs = [...this.users.keys()].filter((s) => s > after && !this.unlisted.has(s)).sort();
      const page = subs.slice(0, size);
      const more = subs.length > size;
      const token = more ? `after:${page.at(-1) ?? ''}` : undefined;
      if (token !== undefined) this.issued.add(token);
      return { Users: page.map((s) => this.userType(s)), ...(token !== undefined ? { PaginationToken: token } : {}) };
    });
    this.mock.on(ListGroupsCommand).callsFake((input: { NextToken?: string; Limit?: number }) => {
      const after = input.NextToken === undefined ? '' : input.NextToken.replace(/^group-after:/, '');
      const names = [...this.groups.keys()].filter((name) => name > after).sort();
      const size = this.ignoresLimit ? Number.POSITIVE_INFINITY : Math.min(this.pageSize, input.Limit ?? 60);
      const page = names.slice(0, size);
      const token = names.length > size ? `group-after:${page.at(-1) ?? ''}` : undefined;
      return {
        Groups: page.map((GroupName) => ({ GroupName, UserPoolId: 'us-east-1_Fake' })),
        ...(token !== undefined ? { NextToken: token } : {}),
      };
    });
    this.mock
      .on(ListUsersInGroupCommand)
      .callsFake((input: { GroupName: string; NextToken?: string; Limit?: number }) => {
        this.memberRequests.push([input.GroupName, input.NextToken]);
        this.onMemberPage?.(input.GroupName);
        const members = this.groups.get(input.GroupName);
        if (members === undefined) throw new ResourceNotFoundException({ message: 'Group not found.', $metadata: {} });
        const after = input.NextToken === undefined ? '' : input.NextToken.replace(/^member-after:/, '');
        const subs = [...members].filter((s) => s > after && this.users.has(s)).sort();
        const size = this.ignoresLimit ? Number.POSITIVE_INFINITY : Math.min(this.pageSize, input.Limit ?? 60);
        const page = subs.slice(0, size);
        const token = subs.length > size ? `member-after:${page.at(-1) ?? ''}` : undefined;
        return { Users: page.map((s) => this.userType(s)), ...(token !== undefined ? { NextToken: token } : {}) };
      });
    this.mock.on(AdminGetUserCommand).callsFake((input: { Username: string }) => {
      const sub = [...this.users].find(([s, user]) => (user.userName ?? s) === input.Username)?.[0];
      if (sub === undefined) throw new UserNotFoundException({ message: 'User does not exist.', $metadata: {} });
      const user = this.userType(sub);
      return {
        Username: user.Username,
        UserAttributes: user.Attributes,
        Enabled: user.Enabled,
        UserStatus: user.UserStatus,
        UserLastModifiedDate: user.UserLastModifiedDate,
      };
    });
  }
}
