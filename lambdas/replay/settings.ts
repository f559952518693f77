import { databaseSettingsFromEnv, type DatabaseSettings } from '../postgres/connection-source';
import { optional, type Env } from '../runtime/env';
import { ConfigurationError } from '../runtime/errors';
import { ERASURE_POLICIES, type ErasurePolicy } from '../users/users-repository';

export interface ReplaySettings {
  readonly database: DatabaseSettings;
  /**
   * What an erase message does to the row: `delete` (with its activities) or `anonymize` (personal data
   * gone, row kept). The reconcile reads the same variable, so both erase alike.
   * @default 'delete'
   */
  readonly erasurePolicy?: ErasurePolicy;
}

/** Reads `CONNECTION_URL` or the IAM variables, and `ERASURE_POLICY`; throws a ConfigurationError naming what is wrong. */
export function settingsFromEnv(env: Env): ReplaySettings {
  const policy = optional(env, 'ERASURE_POLICY') ?? 'delete';
  const erasurePolicy = ERASURE_POLICIES.find((known) => known === policy);
  if (erasurePolicy === undefined) throw new ConfigurationError('ERASURE_POLICY', `must be ${ERASURE_POLICIES.join(' or ')}`);
  return { database: databaseSettingsFromEnv(env), erasurePolicy };
}
