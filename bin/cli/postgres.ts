// Opening a PostgreSQL connection for an operator command: short connect timeout, one clear line on failure.
import { Client } from 'pg';
import { errorCode, SQLSTATE } from '../../lambdas/postgres/error-codes';
import { CliError, EXIT, type ConnectionUrl } from './common';

export interface OpenOptions {
  /** Which URL to connect to; defaults to the connection's own (another database on the same server for create/drop). */
  readonly url?: string;
  readonly database?: string;
  readonly connectTimeoutMs: number;
  /** Server-side limit for each statement. @default none */
  readonly statementTimeoutMs?: number;
}

/** A connected client, or a CliError that names the redacted URL and why it failed. */
export async function openClient(connection: ConnectionUrl, options: OpenOptions): Promise<Client> {
  const database = options.database ?? connection.database;
  const client = new Client({
    connectionString: options.url ?? connection.url,
    connectionTimeoutMillis: options.connectTimeoutMs,
    application_name: 'cruddur-ops',
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  });
  // A server that goes away mid-command emits 'error'; the pending query rejects with it, so just don't crash.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    const code = errorCode(error);
    if (code === SQLSTATE.INVALID_CATALOG_NAME) {
      throw new CliError(`database "${database}" does not exist on ${connection.parsed.host}; run \`npm run db -- create\` first`, EXIT.FAILURE);
    }
    if (code === SQLSTATE.INVALID_PASSWORD || code === SQLSTATE.INVALID_AUTHORIZATION) {
      throw new CliError(`the server at ${connection.parsed.host} refused the credentials in the URL (${code})`, EXIT.CONFIG);
    }
    const reason = code ?? (error instanceof Error ? error.message : String(error));
    throw new CliError(`cannot reach ${connection.redacted} (${reason}; connect timeout ${options.connectTimeoutMs} ms)`, EXIT.UNAVAILABLE);
  }
}
