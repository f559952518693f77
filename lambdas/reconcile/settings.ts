// The reconcile function's configuration, read and checked once on cold start. The CDK side (lib/constructs/
// reconcile.ts) sets these; each check names the variable.
import { DEFAULT_LIST_USERS_RATE, LIST_USERS_ACCOUNT_QUOTA } from '../cognito/user-pool';
import { isUserPoolId } from '../cognito/ids';
import { databaseSettingsFromEnv, type DatabaseSettings } from '../postgres/connection-source';
import { optional, required, type Env } from '../runtime/env';
import { ConfigurationError } from '../runtime/errors';
import { erasurePolicyFromEnv, type ErasurePolicy } from '../users/erasure-policy';

export interface ReconcileSettings {
  readonly database: DatabaseSettings;
  /** USER_POOL_ID */
  readonly userPoolId: string;
  /** ERASURE_POLICY: `delete` (default) or `anonymize`, as for the writer. */
  readonly erasurePolicy: ErasurePolicy;
  /** RECONCILE_RATE: ListUsers requests/s, more than 0 and at most the account's 30. @default 5 */
  readonly listRate: number;
  /**
   * RECONCILE_PRUNE: `true` or `false`, the default of an invocation that does not say. @default true: the
   * scheduled run is the safety net for deletions whose event was lost, and only erases after it has seen the
   * whole pool and the pool confirms, user by user, that the user is gone.
   */
  readonly prune: boolean;
}

/** A ListUsers rate: a number above 0 and at most the account-wide quota. */
export function parseListRate(text: string, name: string): number {
  const rate = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(rate > 0) || rate > LIST_USERS_ACCOUNT_QUOTA) {
    throw new ConfigurationError(
      name,
      `must be a number of ListUsers requests per second above 0 and at most ${LIST_USERS_ACCOUNT_QUOTA}`,
    );
  }
  return rate;
}

function booleanFrom(env: Env, name: string, fallback: boolean): boolean {
  const value = optional(env, name);
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new ConfigurationError(name, 'must be true or false');
}

export function settingsFromEnv(env: Env): ReconcileSettings {
  const userPoolId = required(env, 'USER_POOL_ID');
  if (!isUserPoolId(userPoolId))
    throw new ConfigurationError('USER_POOL_ID', 'is not a user pool id (like us-east-1_AbCdEf123)');
  const rate = optional(env, 'RECONCILE_RATE');
  return {
    database: databaseSettingsFromEnv(env),
    userPoolId,
    erasurePolicy: erasurePolicyFromEnv(env),
    listRate: rate === undefined ? DEFAULT_LIST_USERS_RATE : parseListRate(rate, 'RECONCILE_RATE'),
    prune: booleanFrom(env, 'RECONCILE_PRUNE', true),
  };
}
