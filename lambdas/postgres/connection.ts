// One PostgreSQL connection per function container: opened lazily, reused, re-opened after it breaks.
// Where the credentials come from is the one seam (`ConnectionSource`, connection-source.ts): a URL locally,
// IAM auth in AWS.
import { Client, type QueryResultRow } from 'pg';
import { DatabaseUnavailableError } from '../runtime/errors';
import { connectionSourceFor, type ConnectionSource, type DatabaseSettings } from './connection-source';
import { errorCode, isConnectionError, isOverloaded, isTimeoutError } from './error-codes';
import type { Queryable } from './queryable';

export interface Timeouts {
  /** Time allowed to open a TCP+TLS connection and authenticate. @default 1000 */
  readonly connectMs: number;
  /** Server-side limit for one statement, lock waits included. @default 1000 */
  readonly statementMs: number;
  /** Client-side limit for one round trip, for a server that stopped answering. @default 1500 */
  readonly queryMs: number;
}

/**
 * Sized for Cognito's 5 s trigger budget: one attempt takes at most connect + query (2.5 s), a retry after a
 * broken connection happens only while a whole attempt still fits the budget, and the rest is left for the
 * fallback path and Lambda's own overhead.
 */
export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 1000, statementMs: 1000, queryMs: 1500 };
export const DEFAULT_BUDGET_MS = 3000;

export interface LazyConnectionOptions {
  readonly timeouts?: Partial<Timeouts>;
  /** Total time one `query` may take, retry included. @default 3000 */
  readonly budgetMs?: number;
  readonly applicationName?: string;
}

export class LazyConnection implements Queryable {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private readonly timeouts: Timeouts;
  private readonly budgetMs: number;

  constructor(
    private readonly source: ConnectionSource,
    private readonly options: LazyConnectionOptions = {},
  ) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  }

  /** Runs one statement; if a previously working connection turns out broken, reconnects and runs it once more. */
  async query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[] }> {
    const started = Date.now();
    const reused = this.client !== undefined;
    try {
      return await this.attempt<R>(text, values);
    } catch (error) {
      const attemptMs = this.timeouts.connectMs + this.timeouts.queryMs;
      const retry = reused && isConnectionError(error) && Date.now() - started + attemptMs <= this.budgetMs;
      if (!retry) throw this.translate(error);
      try {
        return await this.attempt<R>(text, values);
      } catch (retryError) {
        throw this.translate(retryError);
      }
    }
  }

  /** Closes the connection, if any; the next query opens a new one. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connecting = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private async attempt<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[] }> {
    const client = await this.connection();
    try {
      return await client.query<R>(text, values);
    } catch (error) {
      // A client-side timeout leaves the protocol mid-message: the connection cannot be trusted again.
      if (isConnectionError(error)) this.discard(client);
      throw error;
    }
  }

  private connection(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<Client> {
    const client = new Client({
      ...this.source(),
      connectionTimeoutMillis: this.timeouts.connectMs,
      statement_timeout: this.timeouts.statementMs,
      lock_timeout: this.timeouts.statementMs,
      query_timeout: this.timeouts.queryMs,
      idle_in_transaction_session_timeout: this.timeouts.statementMs * 5,
      application_name: this.options.applicationName ?? 'cruddur-signup-sync',
      keepAlive: true,
    });
    // An idle connection killed by the server emits 'error' between invocations: forget it, reconnect next time.
    client.on('error', () => this.discard(client));
    client.on('end', () => this.discard(client));
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      // Whatever keeps a connection from opening (refused, unreachable, timed out, an IAM token that could
      // not be minted, a refused login) means the database cannot take this write now: let it be queued.
      throw unavailable(error, 'The database could not be reached within the time budget');
    }
    this.client = client;
    return client;
  }

  private discard(client: Client): void {
    if (this.client === client) this.client = undefined;
    client.end().catch(() => undefined);
  }

  private translate(error: unknown): unknown {
    if (error instanceof DatabaseUnavailableError) return error;
    if (!isConnectionError(error) && !isTimeoutError(error) && !isOverloaded(error)) return error;
    return unavailable(
      error,
      isTimeoutError(error) ? 'The database did not answer within the time budget' : 'The database could not be reached within the time budget',
    );
  }
}

function unavailable(error: unknown, message: string): DatabaseUnavailableError {
  if (error instanceof DatabaseUnavailableError) return error;
  return new DatabaseUnavailableError(message, errorCode(error));
}

/** A port over the database, and how to close the connection under it. */
export interface DatabasePort<T> {
  readonly port: T;
  readonly close: () => Promise<void>;
}

/**
 * The port a caller injected (a test's fake), or `adapter` over a new LazyConnection to `settings`: how each
 * function's factory gets its repository without opening anything before the first event.
 */
export function databasePort<T>(
  injected: T | undefined,
  settings: DatabaseSettings,
  options: LazyConnectionOptions,
  adapter: (db: Queryable) => T,
): DatabasePort<T> {
  if (injected !== undefined) return { port: injected, close: () => Promise.resolve() };
  const connection = new LazyConnection(connectionSourceFor(settings), options);
  return { port: adapter(connection), close: () => connection.close() };
}
