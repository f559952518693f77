import { databaseSettingsFromEnv, type DatabaseSettings } from '../postgres/connection-source';
import type { Env } from '../runtime/env';

export interface HandleCheckSettings {
  readonly database: DatabaseSettings;
}

/** Reads `CONNECTION_URL` or the IAM variables; throws a ConfigurationError naming what is wrong. */
export function settingsFromEnv(env: Env): HandleCheckSettings {
  return { database: databaseSettingsFromEnv(env) };
}
