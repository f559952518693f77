// The smoke command's parts shared by a deployed stage and the local stack: the probe user, the synthetic events
// it is sent as, one Lambda invocation and its JSON log lines, the likely cause of a database failure, the runner.
import { randomUUID } from 'node:crypto';
import { InvokeCommand, type InvocationType, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  CLOUDTRAIL_DETAIL_TYPE,
  COGNITO_API_SOURCE,
  COGNITO_EVENT_SOURCE,
  type CloudTrailEvent,
} from '../../lambdas/cognito/cloudtrail-event';
import { CONFIRM_SIGN_UP } from '../../lambdas/cognito/trigger-event';
import type { ErrorClass } from '../../lambdas/postgres/error-codes';
import { PROBE_PREFIX } from '../../lambdas/post-confirmation/smoke-probe';
import { isRecord } from '../../lambdas/runtime/records';
import { describeFailure, EXIT, type Output } from './common';

export { FALLBACK_METADATA, PROBE_PATTERN } from '../../lambdas/post-confirmation/smoke-probe';

/** A probe's sub: see lambdas/post-confirmation/smoke-probe.ts for why no person can have one. */
export function newProbeSub(): string {
  return `${PROBE_PREFIX}${randomUUID()}`;
}

export interface ProbeEventOptions {
  readonly sub: string;
  readonly userPoolId: string;
  /** Set only for the fallback step. */
  readonly clientMetadata?: Readonly<Record<string, string>>;
}

/** A Post Confirmation event as Cognito sends it, for a user with no attributes but the sub: no email, name or handle. */
export function probeConfirmation(options: ProbeEventOptions): Record<string, unknown> {
  return {
    version: '1',
    region: regionOf(options.userPoolId),
    userPoolId: options.userPoolId,
    userName: options.sub,
    callerContext: { awsSdkVersion: 'cruddur-smoke', clientId: 'cruddur-smoke' },
    triggerSource: CONFIRM_SIGN_UP,
    request: {
      userAttributes: { sub: options.sub, 'cognito:user_status': 'CONFIRMED' },
      ...(options.clientMetadata ? { clientMetadata: { ...options.clientMetadata } } : {}),
    },
    response: {},
  };
}

/**
 * What EventBridge delivers when an administrator deletes a user: the hint the user-events function turns
 * into an erase after finding the user gone from the pool. The sub goes where recorded events carry it.
 */
export function probeDeletion(sub: string, userPoolId: string, now: Date): CloudTrailEvent {
  const region = regionOf(userPoolId);
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': CLOUDTRAIL_DETAIL_TYPE,
    source: COGNITO_EVENT_SOURCE,
    account: '000000000000',
    time: now.toISOString(),
    region,
    resources: [],
    detail: {
      eventVersion: '1.08',
      eventSource: COGNITO_API_SOURCE,
      eventName: 'AdminDeleteUser',
      eventID: randomUUID(),
      eventTime: now.toISOString(),
      awsRegion: region,
      requestParameters: { userPoolId, username: sub },
      responseElements: null,
      additionalEventData: { sub },
    },
  };
}

/** A user pool id is `<region>_<id>`. */
export function regionOf(userPoolId: string): string {
  return userPoolId.split('_')[0] ?? '';
}

export type LogRecord = Record<string, unknown>;

function parseObject(text: string): LogRecord | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The JSON records in a function's log text (Invoke's tail, or one CloudWatch event each). A line may be our
 * logger's JSON as written, carry a text prefix (Lambda's text format), or be wrapped by the runtime's JSON
 * format with ours in `message`; START/END/REPORT and anything else that is not JSON are passed over.
 */
export function logRecords(text: string): LogRecord[] {
  const records: LogRecord[] = [];
  for (const line of text.split('\n')) {
    const start = line.indexOf('{');
    if (start < 0) continue;
    const record = parseObject(line.slice(start));
    if (record === undefined) continue;
    const inner = record.message;
    if (isRecord(inner)) records.push(inner);
    else if (typeof inner === 'string' && inner.startsWith('{') && parseObject(inner) !== undefined)
      records.push(parseObject(inner) as LogRecord);
    else records.push(record);
  }
  return records;
}

/** The function's own lines about one sub, oldest first. */
export function recordsFor(text: string, sub: string): LogRecord[] {
  return logRecords(text).filter((record) => record.sub === sub);
}

export function decodeTail(logResult: string | undefined): string {
  return logResult === undefined ? '' : Buffer.from(logResult, 'base64').toString('utf8');
}

export interface Invocation {
  readonly functionError?: string;
  /** errorType of a function error's payload, when it has a well-formed one. */
  readonly errorType?: string;
  readonly payload: unknown;
  readonly tail: string;
}

/** One invocation; a synchronous one returns the last 4 KB of the function's log with it. */
export async function invoke(
  lambda: LambdaClient,
  name: string,
  event: unknown,
  type: InvocationType = 'RequestResponse',
): Promise<Invocation> {
  const response = await lambda.send(
    new InvokeCommand({
      FunctionName: name,
      InvocationType: type,
      ...(type === 'RequestResponse' ? { LogType: 'Tail' as const } : {}),
      Payload: new TextEncoder().encode(JSON.stringify(event)),
    }),
  );
  let payload: unknown;
  try {
    payload =
      response.Payload && response.Payload.length > 0
        ? JSON.parse(new TextDecoder().decode(response.Payload))
        : undefined;
  } catch {
    payload = undefined;
  }
  const errorType = identifier(
    typeof payload === 'object' && payload !== null ? (payload as LogRecord) : undefined,
    'errorType',
  );
  return {
    ...(response.FunctionError ? { functionError: response.FunctionError } : {}),
    ...(errorType !== undefined ? { errorType } : {}),
    payload,
    tail: decodeTail(response.LogResult),
  };
}

/** A field of a log record, only when it is a short identifier: nothing free-form reaches the operator's line. */
export function identifier(record: LogRecord | undefined, field: string): string | undefined {
  const value = record?.[field];
  return typeof value === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(value) ? value : undefined;
}

const DATABASE_CAUSES: Readonly<Record<ErrorClass, string>> = {
  refused: 'function cannot reach the database (connection refused)',
  timeout: 'function cannot reach the database (timeout)',
  'too-many-connections': 'function cannot reach the database (too many connections)',
  'server-restarting': 'function cannot reach the database (server restarting)',
  network: 'function cannot reach the database (network)',
  deadline: 'function cannot reach the database (out of time)',
  'host-not-found': 'function cannot reach the database (host not found: DB_HOST)',
  'tls-untrusted': 'TLS verification failed (certificate not trusted)',
  'tls-expired': 'TLS verification failed (certificate expired)',
  'tls-host-name': 'TLS verification failed (host name does not match)',
  'tls-not-offered': 'TLS verification failed (server does not offer TLS)',
  'login-refused': 'login refused (IAM authentication)',
  'role-missing': 'login refused (the database role does not exist: migrations?)',
  'no-credentials': 'login refused (the function has no AWS credentials to sign a token)',
  'privilege-missing': 'grant missing (privilege-missing)',
  'database-missing': 'database missing (DB_NAME)',
  'schema-missing': 'migrations not applied (schema-missing)',
};

/** The likely cause of a database failure from the errorClass the function logged, when it logged one. */
export function databaseCause(errorClass: string | undefined): string {
  if (errorClass === undefined) return 'function cannot reach the database';
  return Object.hasOwn(DATABASE_CAUSES, errorClass)
    ? DATABASE_CAUSES[errorClass as ErrorClass]
    : `function cannot reach the database (${errorClass})`;
}

/** A step that failed for a reason the operator can act on: `reason` is the one line's likely cause. */
export class StepFailure extends Error {
  override readonly name = 'StepFailure';
  constructor(
    readonly reason: string,
    readonly exitCode: number = EXIT.FAILURE,
  ) {
    super(reason);
  }
}

/** A step that cannot run here, with the reason, instead of a result. */
export interface Skipped {
  readonly skipped: string;
}

export interface SmokeStep {
  readonly name: string;
  /** Resolves to one line on what it found; throws StepFailure (or anything else) when the check fails. */
  run(): Promise<string | Skipped>;
}

export interface SmokePlan {
  /** `dev`, `prod`, `local`: the first word of every line. */
  readonly label: string;
  readonly probe: string;
  readonly steps: readonly SmokeStep[];
  /**
   * Best-effort removal of the probe when a step after the probe's write failed before the erase step ran.
   * Resolves to a line on what it did; it never changes the outcome.
   */
  readonly cleanup?: () => Promise<string>;
}

export interface RunOptions {
  readonly output: Output;
  /** @default Date.now */
  readonly clock?: () => number;
}

export interface RunResult {
  readonly exitCode: number;
  /** The step that failed, when one did. */
  readonly failed?: string;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 400);
}

/**
 * Runs the steps in order, one line each (name, status, duration, detail) on stdout; stops at the first failure
 * and prints exactly one line on stderr naming the step and the likely cause.
 */
export async function runSmoke(plan: SmokePlan, options: RunOptions): Promise<RunResult> {
  const clock = options.clock ?? Date.now;
  const { output } = options;
  const width = Math.max(...plan.steps.map((step) => step.name.length));
  const started = clock();
  output.out(`smoke ${plan.label}: probe ${plan.probe}`);
  for (const [index, step] of plan.steps.entries()) {
    const stepStarted = clock();
    let result: string | Skipped;
    try {
      result = await step.run();
    } catch (error) {
      const ms = clock() - stepStarted;
      const { reason, exitCode } = error instanceof StepFailure ? error : failureOf(error);
      output.out(`  ${step.name.padEnd(width)}  FAILED   ${String(ms).padStart(6)} ms`);
      // The probe may be written (or queued) once the write step ran; the erase step is the one that removes it.
      const eraseRan = plan.steps.slice(0, index + 1).some((done) => done.name === 'erase');
      const writeRan = plan.steps.slice(0, index + 1).some((done) => done.name === 'write');
      if (plan.cleanup && writeRan && !eraseRan)
        output.err(`smoke ${plan.label}: cleanup: ${oneLine(await plan.cleanup().catch(cleanupFailed))}`);
      output.err(`smoke ${plan.label}: step ${step.name} failed: ${oneLine(reason)}`);
      return { exitCode, failed: step.name };
    }
    const ms = clock() - stepStarted;
    const [status, detail] = typeof result === 'string' ? ['ok     ', result] : ['skipped', result.skipped];
    output.out(`  ${step.name.padEnd(width)}  ${status}  ${String(ms).padStart(6)} ms  ${oneLine(detail)}`);
  }
  output.out(`smoke ${plan.label}: passed in ${((clock() - started) / 1000).toFixed(1)} s`);
  return { exitCode: EXIT.OK };
}

function failureOf(error: unknown): { reason: string; exitCode: number } {
  const { message, exitCode } = describeFailure(error);
  return { reason: message, exitCode };
}

function cleanupFailed(error: unknown): string {
  return `could not remove the probe (${describeFailure(error).message}); it holds no personal data`;
}
