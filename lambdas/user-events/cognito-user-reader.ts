// The UserReader port over findBySub (ListUsers filtered by sub).
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { findBySub } from '../cognito/find-by-sub';
import type { UserReader } from './core';

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
