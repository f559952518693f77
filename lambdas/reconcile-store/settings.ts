// The store function's configuration, read and checked once on cold start: only where the database is and
// whom to log in as (lib/constructs/reconcile.ts sets them through the database client wiring).
import { databaseSettingsFromEnv, type DatabaseSettings } from '../postgres/connection-source';
import type { Env } from '../runtime/env';

export interface ReconcileStoreSettings {
  readonly database: DatabaseSettings;
}

export function settingsFromEnv(env: Env): ReconcileStoreSettings {
  return { database: databaseSettingsFromEnv(env) };
}
