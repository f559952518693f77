// Lambda adapter for the database side of the reconcile, inside the VPC: one store call in (`{method, args}`,
// store-protocol.ts), checked, run through the sync.* functions as user_reconciler, and its result or its
// failure out. It needs no Cognito: the runner outside the VPC reads the pool and sends it the pages.
import type { Context } from 'aws-lambda';
import { databasePort } from '../postgres/connection';
import { SQLSTATE } from '../postgres/error-codes';
import { describeError, ReportableError } from '../runtime/errors';
import { createLogger, type Logger } from '../runtime/logger';
import type { ReconcileStore } from '../reconcile/core';
import { postgresReconcileStore } from '../reconcile/postgres-store';
import {
  InvalidStoreRequestError,
  parseStoreRequest,
  type StoreFailure,
  type StoreMethod,
  type StoreRequest,
  type StoreResponse,
} from '../reconcile/store-protocol';
import type { ReconcileStoreSettings } from './settings';

export interface ReconcileStoreHandlerDeps {
  /** @default JSON lines on stdout for service `reconcile-store` */
  readonly logger?: Logger;
  /** @default the sync.* functions over one connection to `settings.database` */
  readonly store?: ReconcileStore;
}

export interface ReconcileStoreHandler {
  (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<StoreResponse>;
  readonly close: () => Promise<void>;
}

/** SQLSTATEs the runner's core acts on and that are no fault of this side: logged at WARN, not ERROR. */
const EXPECTED_CODES = new Set<string>(['55000', SQLSTATE.poolMismatch]);

/**
 * What of a failure goes back to the runner: its name and code, and a message that quotes no value. A pg
 * message may quote a user's value, so only two kinds pass as they are: this project's own errors (their
 * messages name fields), and sync.bind_pool's SY001, whose message names the two pool ids and nothing else
 * (the core reads the bound pool from it).
 */
export function failureOf(method: StoreMethod | 'request', error: unknown): StoreFailure {
  const { errorName, errorCode } = describeError(error);
  const own = error instanceof ReportableError || (errorCode === SQLSTATE.poolMismatch && error instanceof Error);
  const message = own
    ? error.message
    : `store call ${method} failed: ${errorName}${errorCode !== undefined ? ` (${errorCode})` : ''}`;
  return { name: errorName, ...(errorCode !== undefined ? { code: errorCode } : {}), message };
}

/** Calls the method a checked request names, with its checked arguments, on `store`. */
function callStore(store: ReconcileStore, request: StoreRequest): Promise<unknown> {
  // A member call, so the adapter's methods keep their receiver.
  const methods = store as unknown as Record<StoreMethod, (...args: readonly unknown[]) => Promise<unknown>>;
  return methods[request.method](...request.args);
}

export function createHandler(
  settings: ReconcileStoreSettings,
  deps: ReconcileStoreHandlerDeps = {},
): ReconcileStoreHandler {
  const logger = deps.logger ?? createLogger({ service: 'reconcile-store' });
  // The same limits the reconcile had when it ran in one function: pages of 60, no 5 s budget, the role's own
  // statement_timeout (30 s) above these. The connection stays open across the calls of a run (one call is
  // one invocation); the role's idle_session_timeout closes it minutes after the run, and it reopens lazily.
  const store = databasePort(
    deps.store,
    settings.database,
    {
      applicationName: 'reconcile',
      timeouts: { connectMs: 5000, statementMs: 20_000, queryMs: 25_000 },
      budgetMs: 35_000,
    },
    postgresReconcileStore,
  );

  const handler = async (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<StoreResponse> => {
    const log = logger.child({ requestId: context?.awsRequestId });
    let method: StoreMethod | 'request' = 'request';
    try {
      const request = parseStoreRequest(event);
      method = request.method;
      const result = await callStore(store.port, request);
      // undefined (rewind, an empty resume) is not JSON: null says the same.
      return { ok: true, result: result ?? null };
    } catch (error) {
      const described = describeError(error);
      const expected =
        error instanceof InvalidStoreRequestError ? false : EXPECTED_CODES.has(described.errorCode ?? '');
      if (expected) log.warn('store call failed', { method, ...described });
      else log.error('store call failed', { method, ...described });
      return { ok: false, error: failureOf(method, error) };
    }
  };
  return Object.assign(handler, { close: store.close });
}
