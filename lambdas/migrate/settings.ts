import { MIGRATIONS_DIR } from '../postgres/migrate';
import { type Env, optional, required, tcpPort } from '../runtime/env';

export interface MigrateSettings {
  readonly secretArn: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly migrationsDir: string;
}

/** Reads `DB_SECRET_ARN`, `DB_HOST`, `DB_PORT`, `DB_NAME` and `MIGRATIONS_DIR`; throws a ConfigurationError naming what is wrong. */
export function settingsFromEnv(env: Env): MigrateSettings {
  const port = tcpPort(env, 'DB_PORT', 5432);
  return {
    secretArn: required(env, 'DB_SECRET_ARN'),
    host: required(env, 'DB_HOST'),
    port,
    database: required(env, 'DB_NAME'),
    // In the bundle the migrations sit beside index.js (copied by the bundling hook); from source, in sql/.
    migrationsDir: optional(env, 'MIGRATIONS_DIR') ?? MIGRATIONS_DIR,
  };
}
