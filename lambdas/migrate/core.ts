// Applies sql/migrations and then the changed function files of sql/functions to the RDS database as the master
// user, whose credentials it reads from Secrets Manager on every attempt (the secret is rotated), over TLS
// verified against the RDS CAs. The same migrateDatabase as `npm run db -- migrate`.
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Client, type ClientConfig } from 'pg';
import { errorCode, SQLSTATE } from '../postgres/error-codes';
import { migrateDatabase } from '../postgres/migrate';
import { verifiedTls } from '../postgres/tls';
import type { Logger } from '../runtime/logger';
import { isRecord } from '../runtime/records';
import type { MigrateSettings } from './settings';

export interface MasterCredentials {
  readonly username: string;
  readonly password: string;
}

export class InvalidSecretError extends Error {
  override readonly name = 'InvalidSecretError';
  constructor(reason: string) {
    // Never the secret's text: only which part is wrong.
    super(`The database secret ${reason}`);
  }
}

/** Reads `username` and `password` from the JSON an RDS-generated secret holds. */
export function parseSecret(text: string | undefined): MasterCredentials {
  if (text === undefined) throw new InvalidSecretError('has no SecretString');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidSecretError('is not JSON');
  }
  const { username, password } = isRecord(value) ? value : {};
  if (typeof username !== 'string' || username === '') throw new InvalidSecretError('has no username');
  if (typeof password !== 'string' || password === '') throw new InvalidSecretError('has no password');
  return { username, password };
}

export interface MigrateDependencies {
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  readonly settings: MigrateSettings;
  readonly logger: Logger;
  /** @default verifiedTls(settings.host, { region }) — tests against a local server without TLS pass `false`. */
  readonly ssl?: ClientConfig['ssl'];
  /** Wait before reading the secret again after a refused password. @default 5000 */
  readonly retryDelayMs?: number;
}

export interface MigrateResult {
  /** Numbered migration files applied by this run. */
  readonly applied: string[];
  /** Function files (new or changed) applied by this run, relative to the functions directory. */
  readonly functions: string[];
  /** Every function role's connection limit after the run (-1: none), when settings.connectionLimits was set. */
  readonly connectionLimits?: Record<string, number>;
}

const ATTEMPTS = 3;

/** invalid_password: the secret may be mid-rotation (password set in the database, label not yet moved). */
function isInvalidPassword(error: unknown): boolean {
  return errorCode(error) === SQLSTATE.INVALID_PASSWORD;
}

async function connect(deps: MigrateDependencies): Promise<Client> {
  const retryDelayMs = deps.retryDelayMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    // Read on every attempt, never cached: the secret is rotated.
    const secret = await deps.secrets.send(new GetSecretValueCommand({ SecretId: deps.settings.secretArn }));
    const client = newClient(deps, parseSecret(secret.SecretString));
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (!isInvalidPassword(error) || attempt >= ATTEMPTS) throw error;
      deps.logger.warn('password refused, reading the secret again', { attempt });
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
    }
  }
}

function newClient(deps: MigrateDependencies, credentials: MasterCredentials): Client {
  const { settings } = deps;
  return new Client({
    host: settings.host,
    port: settings.port,
    database: settings.database,
    user: credentials.username,
    password: credentials.password,
    ssl: deps.ssl ?? verifiedTls(settings.host, settings.region === undefined ? {} : { region: settings.region }),
    connectionTimeoutMillis: 10_000,
    application_name: 'migrate',
  });
}

export async function runMigrations(deps: MigrateDependencies): Promise<MigrateResult> {
  const { settings, logger } = deps;
  const client = await connect(deps);
  try {
    const { migrations: applied, functions } = await migrateDatabase(client, {
      migrationsDir: settings.migrationsDir,
      functionsDir: settings.functionsDir,
    });
    logger.info('migrations applied', {
      appliedCount: applied.length,
      applied: applied.join(','),
      functionsCount: functions.length,
      functions: functions.join(','),
    });
    if (settings.connectionLimits === undefined) return { applied, functions };
    // After the migrations and function files, in the same session: a refused map fails the deploy.
    const { rows } = await client.query<{ role_name: string; connection_limit: number }>(
      'SELECT role_name, connection_limit FROM deploy.set_connection_limits($1::jsonb)',
      [JSON.stringify(settings.connectionLimits)],
    );
    const connectionLimits = Object.fromEntries(rows.map((row) => [row.role_name, row.connection_limit]));
    logger.info('connection limits set', connectionLimits);
    return { applied, functions, connectionLimits };
  } finally {
    await client.end().catch(() => undefined);
  }
}
