// The reconcile runner's configuration, read and checked once on cold start. The CDK side (lib/constructs/
// reconcile.ts) sets these; each check names the variable. The runner reaches no database: the store function
// named by RECONCILE_STORE_FUNCTION does, inside the VPC.
import { DEFAULT_LIST_USERS_RATE, LIST_USERS_ACCOUNT_QUOTA } from '../cognito/user-pool';
import { isUserPoolId } from '../cognito/ids';
import { optional, required, type Env } from '../runtime/env';
import { ConfigurationError } from '../runtime/errors';
import { erasurePolicyFromEnv, type ErasurePolicy } from '../users/erasure-policy';

export interface ReconcileSettings {
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
  /**
   * RECONCILE_MAX_PRUNE: the most rows one prune may erase, a whole number of 1 or more. Unset or empty:
   * the core's default, the larger of 10 and 1% of the table.
   */
  readonly maxPrune?: number;
  /** RECONCILE_STORE_FUNCTION: the name or ARN of the store function in the VPC (lambdas/reconcile-store). */
  readonly storeFunction: string;
  /** AWS_LAMBDA_FUNCTION_NAME (Lambda sets it): the metrics' FunctionName dimension. @default 'reconcile' */
  readonly functionName: string;
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

/** A prune limit: a whole number of rows, 0 or more. */
export function parseMaxPrune(text: string, name: string): number {
  const limit = Number(text);
  // 0 would refuse every prune and alarm every day; turning the prune off is RECONCILE_PRUNE=false.
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(limit) || limit < 1)
    throw new ConfigurationError(name, 'must be a whole number of rows, 1 or more');
  return limit;
}

function booleanFrom(env: Env, name: string, fallback: boolean): boolean {
  const value = optional(env, name);
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new ConfigurationError(name, 'must be true or false');
}

/**
 * A Lambda function name, partial or full ARN (the Invoke API's FunctionName): letters, digits, `-`, `_`, and
 * an ARN's `:` parts, at most 140 characters.
 */
const FUNCTION_NAME = /^(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[a-zA-Z0-9-_]{1,64}(:[a-zA-Z0-9-_$]+)?$/;

export function settingsFromEnv(env: Env): ReconcileSettings {
  const userPoolId = required(env, 'USER_POOL_ID');
  if (!isUserPoolId(userPoolId))
    throw new ConfigurationError('USER_POOL_ID', 'is not a user pool id (like us-east-1_AbCdEf123)');
  const storeFunction = required(env, 'RECONCILE_STORE_FUNCTION');
  if (storeFunction.length > 140 || !FUNCTION_NAME.test(storeFunction))
    throw new ConfigurationError('RECONCILE_STORE_FUNCTION', 'is not a Lambda function name or ARN');
  const rate = optional(env, 'RECONCILE_RATE');
  const maxPrune = optional(env, 'RECONCILE_MAX_PRUNE');
  return {
    userPoolId,
    erasurePolicy: erasurePolicyFromEnv(env),
    listRate: rate === undefined ? DEFAULT_LIST_USERS_RATE : parseListRate(rate, 'RECONCILE_RATE'),
    prune: booleanFrom(env, 'RECONCILE_PRUNE', true),
    ...(maxPrune !== undefined ? { maxPrune: parseMaxPrune(maxPrune, 'RECONCILE_MAX_PRUNE') } : {}),
    storeFunction,
    functionName: optional(env, 'AWS_LAMBDA_FUNCTION_NAME') ?? 'reconcile',
  };
}
