import { databaseSettingsFromEnv, type DatabaseSettings } from '../postgres/connection-source';
import type { Env } from '../runtime/env';
import { erasurePolicyFromEnv, type ErasurePolicy } from '../users/erasure-policy';

export interface WriterSettings {
  readonly database: DatabaseSettings;
  /**
   * What an erase message does to the row: `delete` (with its activities) or `anonymize` (personal data
   * gone, row kept). The reconcile reads the same variable, so both erase alike.
   * @default 'delete'
   */
  readonly erasurePolicy?: ErasurePolicy;
}

/** Reads `CONNECTION_URL` or the IAM variables, and `ERASURE_POLICY`; throws a ConfigurationError naming what is wrong. */
export function settingsFromEnv(env: Env): WriterSettings {
  return { database: databaseSettingsFromEnv(env), erasurePolicy: erasurePolicyFromEnv(env) };
}
