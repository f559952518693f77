// Lambda adapter for the scheduled reconcile inside the VPC: checks the input, sets the time budget from the
// invocation's remaining time, runs the core, and returns its counts. EventBridge Scheduler sends
// `{"mode":"start"}` (daily: resume the open run or start one) and `{"mode":"continue"}` (often: resume only,
// so a run of any size keeps moving and an idle schedule costs one statement).
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { Context } from 'aws-lambda';
import { cognitoPoolReader, type PoolReader } from '../cognito/user-pool';
import { systemClock, type Clock } from '../runtime/clock';
import { databasePort } from '../postgres/connection';
import { describeError } from '../runtime/errors';
import { createLogger, type Logger } from '../runtime/logger';
import { isRecord } from '../runtime/records';
import { reconcile, ReconcileError, type ReconcileMode, type ReconcileReport, type ReconcileStore } from './core';
import { postgresReconcileStore } from './postgres-store';
import type { ReconcileSettings } from './settings';

/** What an invocation asks for. `prune` defaults to the function's RECONCILE_PRUNE, `dryRun` to false. */
export interface ReconcileInput {
  readonly mode: ReconcileMode;
  readonly prune?: boolean;
  readonly dryRun?: boolean;
}

/** The invocation's input is not a ReconcileInput; `field` names what is wrong. */
export class InvalidReconcileInputError extends Error {
  override readonly name = 'InvalidReconcileInputError';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`Invalid reconcile input: ${field} ${reason}`);
  }
}

/** What goes back to the invoker when the run failed: the error's name and code, never its message. */
export class ReconcileFailedError extends Error {
  override readonly name = 'ReconcileFailedError';
  constructor(
    readonly causeName: string,
    readonly code: string | undefined,
    requestId: string | undefined,
  ) {
    super(
      `reconcile failed: ${causeName}${code !== undefined ? ` (${code})` : ''}; see the log of request ${requestId ?? 'unknown'}`,
    );
  }
}

const FIELDS = new Set(['mode', 'prune', 'dryRun']);

export function parseReconcileInput(event: unknown): ReconcileInput {
  if (!isRecord(event)) throw new InvalidReconcileInputError('input', 'must be a JSON object like {"mode":"start"}');
  const unknown = Object.keys(event).find((key) => !FIELDS.has(key));
  if (unknown !== undefined)
    throw new InvalidReconcileInputError(JSON.stringify(unknown.slice(0, 40)), 'is not a field (mode, prune, dryRun)');
  const { mode, prune, dryRun } = event;
  if (mode !== 'start' && mode !== 'continue')
    throw new InvalidReconcileInputError('mode', 'must be "start" or "continue"');
  if (prune !== undefined && typeof prune !== 'boolean')
    throw new InvalidReconcileInputError('prune', 'must be true or false');
  if (dryRun !== undefined && typeof dryRun !== 'boolean')
    throw new InvalidReconcileInputError('dryRun', 'must be true or false');
  return { mode, ...(prune !== undefined ? { prune } : {}), ...(dryRun !== undefined ? { dryRun } : {}) };
}

/**
 * Time kept back from the invocation's remaining time: a page or a check started just before the deadline
 * finishes well inside it (a statement is allowed 20 s below), and the counts still get back to the caller.
 */
export const TIME_MARGIN_MS = 30_000;

export interface ReconcileHandlerDeps {
  /** @default JSON lines on stdout for service `reconcile` */
  readonly logger?: Logger;
  /** @default ListUsers and AdminGetUser on `settings.userPoolId` at `settings.listRate` */
  readonly pool?: PoolReader;
  /** @default the sync.* functions over one connection to `settings.database` */
  readonly store?: ReconcileStore;
  /** @default the system clock */
  readonly clock?: Clock;
}

export interface ReconcileHandler {
  (event: unknown, context?: Pick<Context, 'awsRequestId' | 'getRemainingTimeInMillis'>): Promise<ReconcileReport>;
  readonly close: () => Promise<void>;
}

export function createHandler(settings: ReconcileSettings, deps: ReconcileHandlerDeps = {}): ReconcileHandler {
  const logger = deps.logger ?? createLogger({ service: 'reconcile' });
  const clock = deps.clock ?? systemClock;
  const pool =
    deps.pool ??
    cognitoPoolReader(new CognitoIdentityProviderClient({}), {
      userPoolId: settings.userPoolId,
      listRate: settings.listRate,
      clock,
    });
  // Pages of 60 and a prune that waits on the pool between statements: no 5 s budget here, only the role's
  // own statement_timeout (30 s) above this one.
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

  const handler = async (
    event: unknown,
    context?: Pick<Context, 'awsRequestId' | 'getRemainingTimeInMillis'>,
  ): Promise<ReconcileReport> => {
    const log = logger.child({ requestId: context?.awsRequestId });
    try {
      const input = parseReconcileInput(event);
      const remaining = context?.getRemainingTimeInMillis();
      const deadline = remaining === undefined ? undefined : clock.now() + remaining - TIME_MARGIN_MS;
      const report = await reconcile(
        {
          mode: input.mode,
          prune: input.prune ?? settings.prune,
          dryRun: input.dryRun ?? false,
          erasurePolicy: settings.erasurePolicy,
          ...(deadline !== undefined ? { deadline } : {}),
        },
        { pool, store: store.port, clock, logger: log },
      );
      log.info('reconcile invocation done', {
        outcome: report.status,
        mode: input.mode,
        dryRun: report.dryRun,
        runId: report.runId,
        pages: report.pages,
        scanned: report.scanned,
      });
      return report;
    } catch (error) {
      const described = describeError(error);
      log.error('reconcile failed', described);
      // The invoker (the CLI, Scheduler's record) sees the error: a pg message may quote a value, so only our
      // own errors go back as they are.
      if (error instanceof InvalidReconcileInputError || error instanceof ReconcileError) throw error;
      throw new ReconcileFailedError(described.errorName, described.errorCode, context?.awsRequestId);
    } finally {
      // Runs are minutes apart: no idle connection is kept between them.
      await store.close();
    }
  };
  return Object.assign(handler, { close: store.close });
}
