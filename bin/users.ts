#!/usr/bin/env -S npx tsx
// `npm run users -- reconcile`: the safety net by hand. Runs the reconcile core (lambdas/reconcile/core.ts) here
// against CONNECTION_URL (local, or a database this machine reaches), or, for a stage whose database is private
// (`--stage prod`, `--stage dev --remote`), invokes that stage's reconcile function inside the VPC and prints
// its counts.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { isUserPoolId } from '../lambdas/cognito/ids';
import { cognitoPoolReader, DEFAULT_LIST_USERS_RATE } from '../lambdas/cognito/user-pool';
import { systemClock, type Clock } from '../lambdas/runtime/clock';
import { errorCode, isConnectionError } from '../lambdas/postgres/error-codes';
import { reconcile, type ReconcileReport } from '../lambdas/reconcile/core';
import type { ReconcileInput } from '../lambdas/reconcile/handler';
import { operatorReconcileStore } from '../lambdas/reconcile/postgres-store';
import { parseListRate } from '../lambdas/reconcile/settings';
import { erasurePolicyFromEnv } from '../lambdas/users/erasure-policy';
import { ConfigurationError } from '../lambdas/runtime/errors';
import { createLogger } from '../lambdas/runtime/logger';
import { isRecord } from '../lambdas/runtime/records';
import { awsClient, checkStage, stackName, stackOutput } from './cli/aws';
import {
  CliError,
  EXIT,
  connectionUrlFromEnv,
  describeFailure,
  parseSubcommand,
  processOutput,
  runMain,
  type Output,
  helpExit,
} from './cli/common';
import { exportCommand } from './cli/export';
import { connectionOrLocalStack, localCognito } from './cli/local-stack';
import { openClient } from './cli/postgres';

const USAGE = `usage: npm run users -- reconcile [--user-pool-id ID] [--stage dev] [--prod] [--prune] [--dry-run] [--remote] [--rate N] [--progress-every N]
  --user-pool-id ID   the pool (default: output UserPoolId of Cruddur-<stage>-Auth)
  --prune             erase rows whose user the pool no longer has, by ERASURE_POLICY (delete|anonymize);
                      without it they are counted and their subs listed
  --dry-run           write nothing; print what it would do
  --prod              run here against PROD_CONNECTION_URL instead of CONNECTION_URL
  --stage prod        run the stage's deployed reconcile function (its database is private) and print its counts
  --remote            the same for any other stage (--stage dev --remote)
  --rate N            ListUsers requests per second, at most 30 for the whole account (default ${DEFAULT_LIST_USERS_RATE})
       npm run users -- export <sub> [--stage dev] [--prod] [--remote]   (npm run users -- export --help)`;

const OPTIONS = {
  'user-pool-id': { type: 'string' },
  stage: { type: 'string', default: 'dev' },
  prod: { type: 'boolean', default: false },
  prune: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  remote: { type: 'boolean', default: false },
  rate: { type: 'string' },
  'progress-every': { type: 'string', default: '500' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Stages whose database no operator machine reaches: reconcile there always runs as the deployed function. */
const PRIVATE_STAGES = new Set(['prod']);

export interface UsersDeps {
  readonly output?: Output;
  readonly cognito?: CognitoIdentityProviderClient;
  readonly cloudFormation?: CloudFormationClient;
  readonly lambda?: LambdaClient;
  readonly clock?: Clock;
  readonly connectTimeoutMs?: number;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);

/** The report as aligned lines: what a person reads, and what the tests pin. */
export function summary(report: ReconcileReport): string[] {
  const would = (label: string) => (report.dryRun ? `would ${label}` : label);
  const line = (label: string, value: number | string) => `${label.padEnd(18)}${value}`;
  const out: string[] = [];
  if (report.runId !== null) out.push(line('run', `${report.runId} (${report.resumed ? 'resumed' : 'started'})`));
  out.push(line('status', report.status));
  if (report.rewound > 0)
    out.push(line('rewound', `${report.rewound} (the pool refused the saved token; read again from page 1)`));
  out.push(
    line('scanned', report.scanned),
    line(would('insert'), report.inserted),
    line(would('update'), report.updated),
    line('unchanged', report.unchanged),
    line('stale', report.stale),
    line('erased earlier', report.erasedTombstoned),
    line('refused', total(report.refused)),
  );
  for (const [code, n] of Object.entries(report.refused).sort()) out.push(`  SQLSTATE ${code}: ${n}`);
  if (report.handleConflicts > 0)
    out.push(line('handle kept', `${report.handleConflicts} (the pool's handle is another user's)`));
  if (report.handlesRefused > 0)
    out.push(line('handle refused', `${report.handlesRefused} (outside the handle rule: no handle)`));
  out.push(line('skipped', total(report.skipped)));
  for (const [reason, n] of Object.entries(report.skipped).sort()) out.push(`  ${reason}: ${n}`);
  const prune = report.prune;
  if (prune === null) return out;
  if (!prune.available) {
    out.push(line('prune candidates', 'not computed (a dry run as the reconciler role cannot read the table)'));
    return out;
  }
  out.push(line('prune candidates', prune.candidates));
  if (prune.erased + prune.keptInPool + prune.alreadyErased > 0 || prune.subs.length === 0) {
    out.push(line(would('erase'), prune.erased), line('kept (in pool)', prune.keptInPool));
  }
  if (prune.alreadyErased > 0) out.push(line('already erased', prune.alreadyErased));
  if (!prune.complete) out.push('  prune stopped before the last candidate; the next complete run prunes the rest');
  for (const sub of prune.subs) out.push(`  not in the pool: ${sub}`);
  if (prune.subs.length < prune.candidates && prune.subs.length > 0)
    out.push(`  ... and ${prune.candidates - prune.subs.length} more`);
  return out;
}

const SQLSTATE_PATTERN = /^[0-9A-Z]{5}$/;

function describeUsersFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof Error && error.name === 'ResourceNotFoundException') {
    return {
      message: 'the user pool does not exist in this account and region (check AWS_REGION and --user-pool-id)',
      exitCode: EXIT.CONFIG,
    };
  }
  const code = error instanceof Error ? errorCode(error) : undefined;
  if (code !== undefined && SQLSTATE_PATTERN.test(code) && !isConnectionError(error)) {
    // A statement error's message can quote the row's values, which here are people's emails and names.
    return {
      message: `the database rejected a statement (SQLSTATE ${code}); message withheld because it may quote user data`,
      exitCode: EXIT.FAILURE,
    };
  }
  return describeFailure(error);
}

function parseProgressEvery(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new CliError(
      `--progress-every must be a whole number of at least 1, got ${JSON.stringify(value.slice(0, 20))}`,
      EXIT.USAGE,
    );
  return Number(value);
}

function parseRate(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIST_USERS_RATE;
  try {
    return parseListRate(value, '--rate');
  } catch (error) {
    if (error instanceof ConfigurationError)
      throw new CliError(error.message.replace(/^Configuration error: /, ''), EXIT.USAGE);
    throw error;
  }
}

const exitFor = (report: ReconcileReport) => (report.status === 'superseded' ? EXIT.WRONG_STATE : EXIT.OK);

/** Invokes the stage's reconcile function and reads its report; its error comes back as its own (safe) message. */
async function invokeRemote(
  lambda: LambdaClient,
  functionName: string,
  input: ReconcileInput,
): Promise<ReconcileReport> {
  const result = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      Payload: JSON.stringify(input),
    }),
  );
  const text = result.Payload === undefined ? '' : Buffer.from(result.Payload).toString('utf8');
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    payload = undefined;
  }
  if (result.FunctionError !== undefined) {
    // The function returns only its own messages, which name a field or an error class, never a value.
    const message =
      isRecord(payload) && typeof payload.errorMessage === 'string'
        ? payload.errorMessage.slice(0, 300)
        : result.FunctionError;
    throw new CliError(`the reconcile function failed: ${message}`, EXIT.FAILURE);
  }
  if (!isRecord(payload) || typeof payload.status !== 'string')
    throw new CliError('the reconcile function answered with something that is not its report', EXIT.FAILURE);
  return payload as unknown as ReconcileReport;
}

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  deps: UsersDeps = {},
): Promise<number> {
  const output = deps.output ?? processOutput;
  let progress: ReconcileReport | undefined;
  try {
    if (argv[0] === 'export') return await exportCommand(argv.slice(1), env, deps);
    const { values, command } = parseSubcommand(argv, OPTIONS, USAGE);
    const help = helpExit(values, USAGE, output);
    if (help !== undefined) return help;
    if (command !== 'reconcile') {
      throw new CliError(
        `${command === undefined ? 'no command given' : `unknown command ${JSON.stringify(command.slice(0, 40))}`}\n${USAGE}`,
        EXIT.USAGE,
      );
    }
    const dryRun = values['dry-run'];
    const prune = values.prune;
    const progressEvery = parseProgressEvery(values['progress-every']);
    const rate = parseRate(values.rate);
    const stage = checkStage(values.stage);
    const given = values['user-pool-id'];
    if (given !== undefined && !isUserPoolId(given)) {
      throw new CliError(
        `--user-pool-id must look like us-east-1_AbCdEf123, got ${JSON.stringify(given.slice(0, 60))}`,
        EXIT.USAGE,
      );
    }
    const cloudFormation = () => deps.cloudFormation ?? awsClient(CloudFormationClient);

    if (values.remote || PRIVATE_STAGES.has(stage)) {
      if (values.prod)
        throw new CliError(
          `--prod runs here through PROD_CONNECTION_URL; --stage ${stage} runs the deployed function: choose one`,
          EXIT.USAGE,
        );
      if (given !== undefined || values.rate !== undefined) {
        throw new CliError(
          'the deployed function reconciles its own pool at its own RECONCILE_RATE: drop --user-pool-id and --rate',
          EXIT.USAGE,
        );
      }
      const functionName = await stackOutput(
        cloudFormation(),
        stackName(stage, 'Auth'),
        'ReconcileFunctionName',
        '--stage of a deployed stage',
      );
      output.err(
        `users: invoking ${functionName}${dryRun ? ' (dry run: nothing is written)' : ''}; waiting for its counts (up to its 15-minute timeout)`,
      );
      const report = await invokeRemote(deps.lambda ?? awsClient(LambdaClient), functionName, {
        mode: 'start',
        prune,
        dryRun,
      });
      for (const line of summary(report)) output.out(line);
      if (report.status === 'incomplete')
        output.err(
          'users: the function stopped at its time budget; its schedule (mode "continue") resumes the run from the saved page',
        );
      return exitFor(report);
    }

    // Configuration first: a missing URL should not wait for AWS. Without CONNECTION_URL, the local stack's
    // database and cognito-local's pool (stack.json), as `npm start` runs them.
    const { connection, local } = values.prod
      ? { connection: connectionUrlFromEnv(env, true), local: undefined }
      : await connectionOrLocalStack(env);
    const erasurePolicy = erasurePolicyFromEnv(env);
    if (local !== undefined) output.err(`users: using the local stack from ${local.file}`);
    const userPoolId =
      given ??
      local?.info.userPoolId ??
      (await stackOutput(cloudFormation(), stackName(stage, 'Auth'), 'UserPoolId', '--user-pool-id ID'));
    const clock = deps.clock ?? systemClock;
    const cognitoClient =
      deps.cognito ?? (local === undefined ? awsClient(CognitoIdentityProviderClient) : localCognito(local));
    const pool = cognitoPoolReader(cognitoClient, {
      userPoolId,
      listRate: rate,
      clock,
    });
    // The same statement budget as the function's role: a page of 60 users, a prune step.
    const db = await openClient(connection, {
      connectTimeoutMs: deps.connectTimeoutMs ?? 5000,
      statementTimeoutMs: 30_000,
    });
    let report: ReconcileReport;
    try {
      output.err(
        `users: reconciling ${userPoolId} into ${connection.redacted} at ${rate} ListUsers requests/s` +
          (dryRun ? ' (dry run: nothing is written)' : prune ? ` (prune: ${erasurePolicy})` : ''),
      );
      let shown = 0;
      report = await reconcile(
        { mode: 'start', prune, dryRun, erasurePolicy, userPoolId },
        {
          pool,
          store: operatorReconcileStore(db),
          clock,
          // The core's warnings and errors (a refused user, a rewound run: by sub, never a value) go to stderr.
          logger: createLogger({}, (line) => {
            if (/^\{"level":"(WARN|ERROR)"/.test(line)) output.err(line);
          }),
          onPage: (current) => {
            progress = current;
            if (Math.floor(current.scanned / progressEvery) > shown) {
              shown = Math.floor(current.scanned / progressEvery);
              output.err(`users: ${current.scanned} scanned (page ${current.pages}), ${current.inserted} new so far`);
            }
          },
        },
      );
    } finally {
      await db.end().catch(() => undefined);
    }
    for (const line of summary(report)) output.out(line);
    return exitFor(report);
  } catch (error) {
    if (progress) {
      // Each page is committed with the run's next token, so a rerun resumes the same run where this one stopped.
      output.err('users: stopped early; counts so far (a rerun resumes the run):');
      for (const line of summary(progress)) output.err(`  ${line}`);
    }
    const failure = describeUsersFailure(error);
    output.err(`users: ${failure.message}`);
    return failure.exitCode;
  }
}

if (require.main === module) runMain('users', () => main(process.argv.slice(2)));
