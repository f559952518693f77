// The export function's configuration, read and checked once on cold start: only where its database is. The
// CDK side (lib/constructs/export-function.ts) sets it through the database's bindClient, as user_exporter.
import { databaseSettingsFromEnv, type DatabaseSettings } from '../postgres/connection-source';
import type { Env } from '../runtime/env';

export interface ExportSettings {
  readonly database: DatabaseSettings;
}

export function settingsFromEnv(env: Env): ExportSettings {
  return { database: databaseSettingsFromEnv(env) };
}
