// One PostgreSQL connection per function container: opened lazily, reused, re-opened after it breaks.
// Where the credentials come from is the one seam (`ConnectionSource`, connection-source.ts): a URL locally,
// IAM auth in AWS.
import type { QueryConfig, QueryResultRow } from 'pg';
// pg's Client alone: `pg`'s index also loads pg-pool and its native-binding lookup, 17 KB of the bundle and
// ~1.5 ms of CPU on every cold start (Node 24) that one connection per container never uses.
import Client from 'pg/lib/client';
import { DatabaseUnavailableError } from './errors';
import { connectionSourceFor, type ConnectionSource, type DatabaseSettings } from './connection-source';
import { classifyFailure, errorCode, isConnectionError, type Classification } from './error-codes';
import type { Queryable, QueryOptions } from './queryable';

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
  /** Total time one `query` without a deadline may take, retry included. @default 3000 */
  readonly budgetMs?: number;
  readonly applicationName?: string;
}

export class LazyConnection implements Queryable {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  /** Settles when the statement before is done: see inTurn. */
  private turn: Promise<void> = Promise.resolve();
  private readonly timeouts: Timeouts;
  private readonly budgetMs: number;

  constructor(
    private readonly source: ConnectionSource,
    private readonly options: LazyConnectionOptions = {},
  ) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  }

  /**
   * Runs one statement; if a previously working connection turns out broken, reconnects and runs it once more.
   * Everything fits `options.deadline` (or the budget from now): the connect timeout and the client-side
   * statement timeout are what is left of it, and the retry happens only while a whole attempt still fits.
   * The server-side statement_timeout stays per connection (statementMs): SET LOCAL needs a transaction and
   * a per-statement SET costs a round trip, so the deadline is enforced by the client, and the server's own
   * limit stops a statement the client gave up on soon after.
   */
  async query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
    options: QueryOptions = {},
  ): Promise<{ rows: R[] }> {
    const deadline = options.deadline ?? Date.now() + this.budgetMs;
    const reused = this.client !== undefined;
    try {
      return await this.attempt<R>(text, values, deadline, options.name);
    } catch (error) {
      const attemptMs = this.timeouts.connectMs + this.timeouts.queryMs;
      const transient = classifyFailure(error)?.failureClass === 'transient';
      const retry = reused && transient && isConnectionError(error) && deadline - Date.now() >= attemptMs;
      if (!retry) throw this.translate(error);
      try {
        return await this.attempt<R>(text, values, deadline, options.name);
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

  /**
   * One statement at a time on the one client: callers that overlap (the local invoke server, a test's
   * concurrent events) wait their turn here, with the wait counted against their deadline, rather than in
   * pg's own queue, which pg 8 deprecates (it warns "client is already executing a query").
   */
  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turn.then(work, work);
    this.turn = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private attempt<R extends QueryResultRow>(
    text: string,
    values: unknown[] | undefined,
    deadline: number,
    name?: string,
  ): Promise<{ rows: R[] }> {
    return this.inTurn(() => this.attemptNow<R>(text, values, deadline, name));
  }

  private async attemptNow<R extends QueryResultRow>(
    text: string,
    values: unknown[] | undefined,
    deadline: number,
    name?: string,
  ): Promise<{ rows: R[] }> {
    // An open connection is used without awaiting a promise for it: one microtask turn less on every statement.
    const client = this.client ?? (await this.connection(deadline));
    const left = deadline - Date.now();
    if (left <= 0) throw new DatabaseUnavailableError(DEADLINE_MESSAGE, undefined, DEADLINE);
    // pg reads a per-query `query_timeout` (its types do not declare it): what is left of the deadline. An absent
    // name or values is the same to pg as an undefined one (it tests them for truth).
    const config: QueryConfig & { readonly query_timeout: number } = {
      text,
      name,
      values,
      query_timeout: Math.min(this.timeouts.queryMs, left),
    };
    try {
      return await client.query<R>(config);
    } catch (error) {
      // A client-side timeout leaves the protocol mid-message: the connection cannot be trusted again.
      if (isConnectionError(error)) this.discard(client);
      throw error;
    }
  }

  private connection(deadline: number): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.open(deadline).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(deadline: number): Promise<Client> {
    const left = deadline - Date.now();
    if (left <= 0) throw new DatabaseUnavailableError(DEADLINE_MESSAGE, undefined, DEADLINE);
    const client = new Client({
      ...this.source(),
      connectionTimeoutMillis: Math.max(1, Math.min(this.timeouts.connectMs, left)),
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
      // Whatever keeps a connection from opening means the database cannot take this write now: let it be
      // queued. Whether waiting will help (a restart) or not (an untrusted certificate) is in the class.
      const classification = classifyFailure(error) ?? { failureClass: 'transient', errorClass: 'network' };
      throw unavailable(
        error,
        classification,
        classification.failureClass === 'transient' ? UNREACHABLE_MESSAGE : undefined,
      );
    }
    this.client = client;
    return client;
  }

  private discard(client: Client): void {
    if (this.client === client) this.client = undefined;
    client.end().catch(() => undefined);
  }

  /** A failure that says something about the connection becomes DatabaseUnavailableError; anything else is the caller's. */
  private translate(error: unknown): unknown {
    if (error instanceof DatabaseUnavailableError) return error;
    const classification = classifyFailure(error);
    return classification === undefined ? error : unavailable(error, classification);
  }
}

const DEADLINE: Classification = { failureClass: 'transient', errorClass: 'deadline' };
const DEADLINE_MESSAGE = "The event's deadline passed before the database answered";

// Fixed texts by class: the server's and OpenSSL's messages may quote a value or a host, and never reach a log.
const MESSAGES: Partial<Record<Classification['errorClass'], string>> = {
  timeout: 'The database did not answer within the time budget',
  'too-many-connections': 'The database has no connection slot free',
  'server-restarting': 'The database is restarting',
  'tls-untrusted': "The database's certificate is not signed by a trusted RDS certificate authority",
  'tls-expired': "The database's certificate has expired or is not valid yet",
  'tls-host-name': "The database's certificate does not name the host connected to",
  'tls-not-offered': 'The database does not offer TLS',
  'login-refused': 'The database refused the login',
  'role-missing': 'The database role to log in as does not exist',
  'privilege-missing': 'The database role lacks a privilege it needs',
  'database-missing': 'The database does not exist on the server',
  'schema-missing': 'The database lacks a table or function the code uses (are the migrations applied?)',
  'host-not-found': 'The database host name does not resolve',
  'no-credentials': 'No credentials to sign the IAM database token',
};

const UNREACHABLE_MESSAGE = 'The database could not be reached within the time budget';

function unavailable(error: unknown, classification: Classification, fixed?: string): DatabaseUnavailableError {
  if (error instanceof DatabaseUnavailableError) return error;
  const message = fixed ?? MESSAGES[classification.errorClass] ?? UNREACHABLE_MESSAGE;
  return new DatabaseUnavailableError(message, errorCode(error), classification);
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
