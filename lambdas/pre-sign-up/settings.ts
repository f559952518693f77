import { databaseSettingsFromEnv, type DatabaseSettings } from '../postgres/connection-source';
import { optional, type Env } from '../runtime/env';
import { ConfigurationError } from '../runtime/errors';

/**
 * Where the handle check asks: the database itself (in the VPC, the default), or the in-VPC handle-check
 * function (outside the VPC, with linking: `HANDLE_CHECK_FUNCTION_NAME` and `LINK_FEDERATED_BY_EMAIL=true`).
 */
export type PreSignUpSettings =
  | { readonly database: DatabaseSettings; readonly linkFederatedByEmail?: false }
  | { readonly handleCheckFunctionName: string; readonly linkFederatedByEmail: true };

/** Reads the variables of either shape; throws a ConfigurationError naming what is wrong. */
export function settingsFromEnv(env: Env): PreSignUpSettings {
  const functionName = optional(env, 'HANDLE_CHECK_FUNCTION_NAME');
  const link = optional(env, 'LINK_FEDERATED_BY_EMAIL');
  if (link !== undefined && link !== 'true' && link !== 'false') {
    throw new ConfigurationError('LINK_FEDERATED_BY_EMAIL', 'must be true or false');
  }
  if (functionName === undefined) {
    // Linking needs Cognito, which the VPC cannot reach once the pool has a domain: it only runs outside.
    if (link === 'true') throw new ConfigurationError('HANDLE_CHECK_FUNCTION_NAME', 'is required for linking');
    return { database: databaseSettingsFromEnv(env) };
  }
  if (link !== 'true') {
    throw new ConfigurationError('LINK_FEDERATED_BY_EMAIL', 'must be true with HANDLE_CHECK_FUNCTION_NAME');
  }
  return { handleCheckFunctionName: functionName, linkFederatedByEmail: true };
}
