import { FUNCTIONS_DIR, MIGRATIONS_DIR } from '../postgres/migrate';
import { type Env, optional, required, tcpPort } from '../runtime/env';
import { ConfigurationError } from '../runtime/errors';
import { isRecord } from '../runtime/records';

/** The roles the functions log in as: the only ones whose connection limit the deployment sets. */
export const FUNCTION_ROLES = ['signup_writer', 'sync_writer', 'user_reconciler', 'handle_checker'] as const;
export type FunctionRole = (typeof FUNCTION_ROLES)[number];
/** Bounds deploy.set_connection_limits (0004) accepts; -1 lifts a limit. */
export const MAX_CONNECTION_LIMIT = 10_000;
export const NO_CONNECTION_LIMIT = -1;

export type ConnectionLimits = Readonly<Partial<Record<FunctionRole, number>>>;

export interface MigrateSettings {
  readonly secretArn: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly migrationsDir: string;
  /** The function files applied after the migrations (FUNCTIONS_DIR). */
  readonly functionsDir: string;
  /** The region the instance is in (AWS_REGION, which Lambda sets): only its RDS roots are trusted. @default every region's */
  readonly region?: string;
  /**
   * Each function role's CONNECTION LIMIT, set after the migrations (they depend on the stage, so no migration
   * file can hold them). From `CONNECTION_LIMITS`, a JSON object, set by lib/stage.ts's connection arithmetic:
   *   CONNECTION_LIMITS={"signup_writer": 20, "sync_writer": 5, "user_reconciler": 2, "handle_checker": 10}
   * Keys: any of FUNCTION_ROLES (a role left out keeps its limit); values: whole numbers 1-10000, or -1 for none.
   * @default none: the roles' limits stay as they are
   */
  readonly connectionLimits?: ConnectionLimits;
}

function isLimit(value: unknown): value is number {
  return (
    Number.isInteger(value) &&
    ((value as number) === NO_CONNECTION_LIMIT || ((value as number) >= 1 && (value as number) <= MAX_CONNECTION_LIMIT))
  );
}

/** Parses CONNECTION_LIMITS; the errors name the variable and the role, never echo what else the text holds. */
export function parseConnectionLimits(text: string): ConnectionLimits {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigurationError('CONNECTION_LIMITS', 'is not JSON');
  }
  if (!isRecord(parsed)) throw new ConfigurationError('CONNECTION_LIMITS', 'must be a JSON object of role: limit');
  const limits: Partial<Record<FunctionRole, number>> = {};
  for (const [key, value] of Object.entries(parsed)) {
    const role = FUNCTION_ROLES.find((known) => known === key);
    if (role === undefined)
      throw new ConfigurationError('CONNECTION_LIMITS', `may only name ${FUNCTION_ROLES.join(', ')}`);
    if (!isLimit(value)) {
      throw new ConfigurationError(
        'CONNECTION_LIMITS',
        `${role} must be a whole number from 1 to ${MAX_CONNECTION_LIMIT}, or ${NO_CONNECTION_LIMIT} for none`,
      );
    }
    limits[role] = value;
  }
  return limits;
}

/**
 * Reads `DB_SECRET_ARN`, `DB_HOST`, `DB_PORT`, `DB_NAME`, `MIGRATIONS_DIR`, `FUNCTIONS_DIR` and
 * `CONNECTION_LIMITS`; throws a ConfigurationError naming what is wrong.
 */
export function settingsFromEnv(env: Env): MigrateSettings {
  const port = tcpPort(env, 'DB_PORT', 5432);
  const limits = optional(env, 'CONNECTION_LIMITS');
  const region = optional(env, 'AWS_REGION');
  return {
    secretArn: required(env, 'DB_SECRET_ARN'),
    host: required(env, 'DB_HOST'),
    port,
    database: required(env, 'DB_NAME'),
    // In the bundle the migrations and function files sit beside index.js (copied by the bundling hook); from
    // source, in sql/.
    migrationsDir: optional(env, 'MIGRATIONS_DIR') ?? MIGRATIONS_DIR,
    functionsDir: optional(env, 'FUNCTIONS_DIR') ?? FUNCTIONS_DIR,
    ...(limits === undefined ? {} : { connectionLimits: parseConnectionLimits(limits) }),
    ...(region === undefined ? {} : { region }),
  };
}
