// Lambda adapter for the scheduled reconcile, outside the VPC: checks the input, sets the time budget from the
// invocation's remaining time, runs the core with the pool read here (ListUsers) and the store answered by the
// store function in the VPC (one Invoke a store call), emits the run's metrics, and returns its counts.
// EventBridge Scheduler sends `{"mode":"start"}` (daily: resume the open run or start one) and
// `{"mode":"continue"}` (often: resume only, so a run of any size keeps moving and an idle schedule costs one
// statement). Outside, because a pool with a domain cannot be reached through the Cognito VPC endpoint.
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Context } from 'aws-lambda';
import { cognitoPoolReader, type PoolReader } from '../cognito/user-pool';
import { systemClock, type Clock } from '../runtime/clock';
import { describeError, ReportableError } from '../runtime/errors';
import { createLogger, type Logger } from '../runtime/logger';
import { emfLine, stdoutMetrics, type MetricsSink } from '../runtime/metrics';
import { isRecord } from '../runtime/records';
import { reconcile, ReconcileError, type ReconcileMode, type ReconcileReport, type ReconcileStore } from './core';
import { lambdaInvoke, lambdaReconcileStore } from './lambda-store';
import { RemoteStoreError } from './store-protocol';
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
 * finishes well inside it (a store call is allowed 35 s on the database side, plus the store function's cold
 * start), and the counts still get back to the caller.
 */
export const TIME_MARGIN_MS = 45_000;

/** The metrics of a run (not of a dry run, whose figures are what it would do), as the alarms read them. */
export function reportMetrics(report: ReconcileReport): Record<'Drift' | 'PruneRefused' | 'TombstonedInPool', number> {
  const refused = report.prune?.available === true && report.prune.refused !== undefined;
  return { Drift: report.drift, PruneRefused: refused ? 1 : 0, TombstonedInPool: report.tombstonedInPool };
}

export interface ReconcileHandlerDeps {
  /** @default JSON lines on stdout for service `reconcile` */
  readonly logger?: Logger;
  /** @default ListUsers on `settings.userPoolId` at `settings.listRate` */
  readonly pool?: PoolReader;
  /** @default the store function `settings.storeFunction`, one Invoke a call */
  readonly store?: ReconcileStore;
  /** @default the system clock */
  readonly clock?: Clock;
  /** Where the EMF lines go. @default stdout */
  readonly metrics?: MetricsSink;
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
  const store = deps.store ?? lambdaReconcileStore(lambdaInvoke(new LambdaClient({}), settings.storeFunction));
  const metrics = deps.metrics ?? stdoutMetrics;

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
          userPoolId: settings.userPoolId,
          ...(settings.maxPrune !== undefined ? { maxPrune: settings.maxPrune } : {}),
          ...(deadline !== undefined ? { deadline } : {}),
        },
        { pool, store, clock, logger: log },
      );
      if (!report.dryRun)
        metrics(
          emfLine({
            dimensions: { FunctionName: settings.functionName },
            counts: reportMetrics(report),
            timestamp: clock.now(),
          }),
        );
      log.info('reconcile invocation done', {
        outcome: report.status,
        mode: input.mode,
        dryRun: report.dryRun,
        runId: report.runId,
        pages: report.pages,
        scanned: report.scanned,
        drift: report.drift,
        tombstonedInPool: report.tombstonedInPool,
      });
      return report;
    } catch (error) {
      const described = describeError(error);
      log.error('reconcile failed', described);
      // The invoker (the CLI, Scheduler's record) sees the error: a foreign message may quote a value, so only
      // our own errors go back as they are. A database failure on the store's side goes back as it did when
      // the run was one function: by name and SQLSTATE.
      if (error instanceof RemoteStoreError)
        throw new ReconcileFailedError(error.causeName, error.code, context?.awsRequestId);
      if (
        error instanceof InvalidReconcileInputError ||
        error instanceof ReconcileError ||
        error instanceof ReportableError
      )
        throw error;
      throw new ReconcileFailedError(described.errorName, described.errorCode, context?.awsRequestId);
    }
  };
  // Nothing to close here: the connection is the store function's.
  return Object.assign(handler, { close: () => Promise.resolve() });
}
