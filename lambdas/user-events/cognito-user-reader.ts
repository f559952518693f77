// The UserReader port over findBySub (ListUsers filtered by sub), and the GroupReader port over
// AdminListGroupsForUser and GetGroup.
import {
  AdminListGroupsForUserCommand,
  CognitoIdentityProviderClient,
  GetGroupCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { findBySub } from '../cognito/find-by-sub';
import type { GroupReader, UserReader } from './core';

export interface CognitoClientOptions {
  /** SDK attempts per call, the first included; throttling beyond that is Lambda's retry to make. @default 3 */
  readonly maxAttempts?: number;
  /** Bounds a TCP connect to Cognito. @default 1000 */
  readonly connectionTimeoutMs?: number;
  /** Bounds the wait for an answer on an open connection. @default 3000 */
  readonly requestTimeoutMs?: number;
}

/**
 * One client per container. No region, endpoint or credentials are passed on purpose: the SDK reads AWS_REGION,
 * the credential chain, and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER itself.
 */
export function createCognitoClient(options: CognitoClientOptions = {}): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 1000,
      requestTimeout: options.requestTimeoutMs ?? 3000,
      // Without it this SDK only logs a warning when the request timeout passes, and waits on.
      throwOnRequestTimeout: true,
    },
  });
}

/**
 * The user by sub, whatever their user name (a federated `Google_…` user, a chosen name): undefined only when
 * the pool has nobody with that sub. Every other failure (throttling, access denied) is thrown.
 */
export function cognitoUserReader(client: CognitoIdentityProviderClient, userPoolId: string): UserReader {
  return { read: (sub) => findBySub(client, userPoolId, sub) };
}

/** AdminListGroupsForUser's largest page. */
const GROUPS_PAGE_SIZE = 60;

/**
 * The groups over AdminListGroupsForUser (UserResourceRead, 50 requests/s for the account) and GetGroup
 * (UserPoolResourceRead, 20 requests/s, at most 5/s for one pool)
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html). A user is in at most 100 groups,
 * so the list is two pages at most.
 */
export function cognitoGroupReader(client: CognitoIdentityProviderClient, userPoolId: string): GroupReader {
  return {
    async groupsOf(userName) {
      const names: string[] = [];
      let token: string | undefined;
      do {
        const result = await client.send(
          new AdminListGroupsForUserCommand({
            UserPoolId: userPoolId,
            Username: userName,
            Limit: GROUPS_PAGE_SIZE,
            ...(token !== undefined ? { NextToken: token } : {}),
          }),
        );
        for (const group of result.Groups ?? []) if (typeof group.GroupName === 'string') names.push(group.GroupName);
        token = result.NextToken || undefined;
      } while (token !== undefined);
      return names;
    },
    async groupExists(group) {
      try {
        await client.send(new GetGroupCommand({ UserPoolId: userPoolId, GroupName: group }));
        return true;
      } catch (error) {
        // GetGroup answers ResourceNotFoundException for a group the pool does not have; anything else is a fault.
        if (error instanceof Error && error.name === 'ResourceNotFoundException') return false;
        throw error;
      }
    },
  };
}
