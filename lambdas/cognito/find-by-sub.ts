// One user by sub, for every kind of user: what "this user exists" and "this user is gone" mean everywhere.
import {
  ListUsersCommand,
  type CognitoIdentityProviderClient,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { subFilter } from './sub';

/** The pool answered with a user that is not the one asked for: a fault, never read as "gone". */
export class UnexpectedUserError extends Error {
  override readonly name = 'UnexpectedUserError';
  constructor(readonly count: number) {
    super(`ListUsers filtered by sub answered with ${count} user(s) none of which, or more than one of which, has it`);
  }
}

function subAttribute(user: UserType): string | undefined {
  return user.Attributes?.find((attribute) => attribute.Name === 'sub')?.Value;
}

/**
 * The pool's user whose sub is `sub`, or undefined when the pool has none: the one meaning of "gone".
 *
 * AdminGetUser takes a user name, which is the sub only for a local user of a pool that signs in by email; a
 * federated user's name is `Google_…` (or the provider's), and a pool may let people choose names, so for them
 * AdminGetUser(Username=sub) answers UserNotFoundException for a user who exists. ListUsers searches the `sub`
 * attribute of every user instead: the API reference lists `sub` among the attributes a Filter may name, with
 * `=` for an exact match and quotation marks escaped by a backslash
 * (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ListUsers.html, "Filter").
 * ListUsers counts against the account's ListUsers quota (30 requests/s, shared), not AdminGetUser's.
 */
export async function findBySub(
  client: CognitoIdentityProviderClient,
  userPoolId: string,
  sub: string,
): Promise<UserType | undefined> {
  const result = await client.send(new ListUsersCommand({ UserPoolId: userPoolId, Filter: subFilter(sub) }));
  const users = result.Users ?? [];
  if (users.length === 0) return undefined;
  // An exact match names one user; anything else is not an answer to this question, and certainly not "gone".
  const matching = users.filter((user) => subAttribute(user) === sub);
  const [user] = matching;
  if (matching.length !== 1 || user === undefined) throw new UnexpectedUserError(users.length);
  return user;
}
