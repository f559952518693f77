#!/usr/bin/env -S npx tsx
// `npm run users -- reconcile`: the safety net by hand. Runs the reconcile core (lambdas/reconcile/core.ts) here
// against CONNECTION_URL (local, or a database this machine reaches), or, for a stage whose database is private
// (`--stage prod`, `--stage dev --remote`), invokes that stage's reconcile function inside the VPC and prints
// its counts. `users restore <sub>` undoes a wrong erasure once the pool shows the user is there.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { findBySub } from '../lambdas/cognito/find-by-sub';
import { isUserPoolId } from '../lambdas/cognito/ids';
import { isSub } from '../lambdas/cognito/sub';
import { cognitoPoolReader, DEFAULT_LIST_USERS_RATE } from '../lambdas/cognito/user-pool';
import { systemClock, type Clock } from '../lambdas/runtime/clock';
import { errorCode, isConnectionError, SQLSTATE } from '../lambdas/postgres/error-codes';
import { reconcile, ReconcileError, type ReconcileReport } from '../lambdas/reconcile/core';
import type { ReconcileInput } from '../lambdas/reconcile/handler';
import { operatorReconcileStore, postgresReconcileStore } from '../lambdas/reconcile/postgres-store';
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
  parseCommandLine,
  parseSubcommand,
  processOutput,
  runMain,
  type Output,
  helpExit,
} from './cli/common';
import { invokeDeployed, stageFunctionName } from './cli/deployed-function';
import { exportCommand } from './cli/export';
import { connectionOrLocalStack, localCognito } from './cli/local-stack';
import { openClient } from './cli/postgres';

const USAGE = `usage: npm run users -- reconcile [--user-pool-id ID] [--stage dev] [--prod] [--prune] [--max-prune N] [--dry-run] [--remote] [--rate N] [--progress-every N]
  --user-pool-id ID   the pool (default: output UserPoolId of Cruddur-<stage>-Auth)
  --prune             erase rows whose user the pool no longer has, by ERASURE_POLICY (delete|anonymize);
                      without it they are counted and their subs listed. Never after a run that saw no user,
                      and nothing at all when more rows than the limit would go: max(10, 1% of the table)
  --max-prune N       the limit for this run, when that many really left the pool
  --dry-run           write nothing; print what it would do
  --prod              run here against PROD_CONNECTION_URL and the prod stage's pool (never another stage's)
  --stage prod        run the stage's deployed reconcile function (its database is private) and print its counts
  --remote            the same for any other stage (--stage dev --remote)
  --rate N            ListUsers requests per second, at most 30 for the whole account (default ${DEFAULT_LIST_USERS_RATE})
       npm run users -- restore <sub> [--user-pool-id ID] [--stage dev] [--prod]
  removes the sub's tombstone once the pool shows the user is there; the next reconcile writes them back
       npm run users -- export <sub> [--stage dev] [--prod] [--remote]   (npm run users -- export --help)`;

const OPTIONS = {
  'user-pool-id': { type: 'string' },
  // No default: --prod must know whether a stage was said (see stageOf).
  stage: { type: 'string' },
  prod: { type: 'boolean', default: false },
  prune: { type: 'boolean', default: false },
  'max-prune': { type: 'string' },
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

/** The summary's labels are padded to this: the longest, `tombstoned in pool`, then two spaces. */
const LABEL_WIDTH = 20;

type Refusal = NonNullable<Extract<ReconcileReport['prune'], { available: true }>['refused']>;

function refusalText(refused: Refusal): string {
  return refused.reason === 'empty_scan'
    ? `the run saw no user in the pool; nothing erased (${refused.candidates} rows not seen)`
    : `${refused.candidates} rows would be erased, more than the limit of ${refused.limit}; nothing erased`;
}

/** The line an operator reads when the brake held, with what to do next. */
function refusalAdvice(refused: Refusal, userPoolId: string | undefined): string {
  return refused.reason === 'empty_scan'
    ? `users: prune refused: the run saw no user in ${userPoolId ?? 'the pool'}, so it erases nobody (${refused.candidates} rows not seen); check that this is the stage's pool`
    : `users: prune refused: ${refused.candidates} rows would be erased, more than the limit of ${refused.limit}; nothing erased. ` +
        `If they have really left the pool, rerun with --max-prune ${refused.candidates}`;
}

/** The groups phase's lines; none when the invocation did not reach it (or a function too old to report it). */
function groupLines(report: ReconcileReport, line: (label: string, value: number | string) => string): string[] {
  const groups = report.groups;
  if (groups === null || groups === undefined) return [];
  const out = [line('groups', `${groups.listed}${groups.complete ? '' : ' (phase not finished; the run resumes it)'}`)];
  if (!groups.compared) {
    out.push(line('group members', `${groups.members} (listed; a dry run does not compare them with the table)`));
    return out;
  }
  out.push(
    line('members added', groups.added),
    line('members removed', groups.removed),
    line('groups deleted', `${groups.groupsDeleted} (${groups.deletedMemberships} memberships)`),
  );
  if (groups.notSynced > 0) out.push(line('members not synced', `${groups.notSynced} (no row: not confirmed yet)`));
  if (groups.erased > 0) out.push(line('members erased', `${groups.erased} (tombstoned: never written)`));
  return out;
}

/** The report as aligned lines: what a person reads, and what the tests pin. */
export function summary(report: ReconcileReport): string[] {
  const would = (label: string) => (report.dryRun ? `would ${label}` : label);
  const line = (label: string, value: number | string) => `${label.padEnd(LABEL_WIDTH)}${value}`;
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
    line('tombstoned in pool', report.tombstonedInPool),
    line('refused', total(report.refused)),
    line(would('drift'), report.drift),
  );
  for (const [code, n] of Object.entries(report.refused).sort()) out.push(`  SQLSTATE ${code}: ${n}`);
  if (report.handleConflicts > 0)
    out.push(line('handle kept', `${report.handleConflicts} (the pool's handle is another user's)`));
  if (report.handlesRefused > 0)
    out.push(line('handle refused', `${report.handlesRefused} (outside the handle rule: no handle)`));
  out.push(line('skipped', total(report.skipped)));
  for (const [reason, n] of Object.entries(report.skipped).sort()) out.push(`  ${reason}: ${n}`);
  out.push(...groupLines(report, line));
  const prune = report.prune;
  if (prune === null) return out;
  if (!prune.available) {
    out.push(line('prune candidates', 'not computed (a dry run as the reconciler role cannot read the table)'));
    return out;
  }
  out.push(line('prune candidates', prune.candidates));
  if (prune.refused !== undefined) {
    out.push(line('prune refused', refusalText(prune.refused)));
    return out;
  }
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
  // The core's own messages name ids and counts, never a person's data: the pool-binding refusal among them.
  if (error instanceof ReconcileError)
    return { message: error.message, exitCode: error.name === 'PoolMismatchError' ? EXIT.REFUSED : EXIT.FAILURE };
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

/** Superseded: another run carries on (3); the brake held (4, REFUSED); else 0. */
function exitFor(report: ReconcileReport, output: Output, userPoolId?: string): number {
  const refused = report.prune?.available === true ? report.prune.refused : undefined;
  if (refused !== undefined) {
    output.err(refusalAdvice(refused, userPoolId));
    return EXIT.REFUSED;
  }
  return report.status === 'superseded' ? EXIT.WRONG_STATE : EXIT.OK;
}

function parseMaxPrune(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  // 0 would refuse every prune; a run that should erase nobody leaves out --prune.
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1)
    throw new CliError(
      `--max-prune must be a whole number of rows, 1 or more, got ${JSON.stringify(value.slice(0, 20))}`,
      EXIT.USAGE,
    );
  return Number(value);
}

/**
 * The stage whose pool and database go together. `--prod` is the prod stage's database, so it takes the prod
 * stage's pool; a --stage that says otherwise is refused here, before anything is read.
 */
function stageOf(values: { readonly stage?: string | undefined; readonly prod: boolean }): string {
  if (values.prod && values.stage !== undefined && values.stage !== 'prod')
    throw new CliError(
      `--prod is the prod stage's database; --stage ${JSON.stringify(values.stage.slice(0, 30))} names another stage's pool: drop one`,
      EXIT.USAGE,
    );
  return checkStage(values.stage ?? (values.prod ? 'prod' : 'dev'));
}

/** Invokes the stage's reconcile function and reads its report. */
async function invokeRemote(
  lambda: LambdaClient,
  functionName: string,
  input: ReconcileInput,
): Promise<ReconcileReport> {
  // A database bound to another pool is the same refusal as a local run's (4), not a failure.
  const payload = await invokeDeployed(lambda, functionName, 'the reconcile function', input, {
    PoolMismatchError: EXIT.REFUSED,
  });
  if (!isRecord(payload) || typeof payload.status !== 'string')
    throw new CliError('the reconcile function answered with something that is not its report', EXIT.FAILURE);
  return payload as unknown as ReconcileReport;
}

const RESTORE_USAGE = `usage: npm run users -- restore <sub> [--user-pool-id ID] [--stage dev] [--prod]
  Removes the tombstone of a wrongly erased user, after checking that the pool (--user-pool-id, or the stage's)
  has a user with that sub; otherwise it refuses (exit ${EXIT.REFUSED}) and the tombstone stays. The next reconcile
  writes the user back from the pool. Through CONNECTION_URL (or the local stack), or PROD_CONNECTION_URL with --prod.`;

const RESTORE_OPTIONS = {
  'user-pool-id': { type: 'string' },
  stage: { type: 'string' },
  prod: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** `users restore <sub>`: the tombstone goes only when the pool shows the person is still there. */
async function restore(argv: string[], env: NodeJS.ProcessEnv, deps: UsersDeps, output: Output): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, RESTORE_OPTIONS, RESTORE_USAGE);
  const help = helpExit(values, RESTORE_USAGE, output);
  if (help !== undefined) return help;
  const [sub, ...rest] = positionals;
  if (sub === undefined || rest.length > 0 || !isSub(sub))
    throw new CliError(`restore takes one sub (1-128 of A-Z a-z 0-9 . _ : -)\n${RESTORE_USAGE}`, EXIT.USAGE);
  const stage = stageOf(values);
  const given = values['user-pool-id'];
  if (given !== undefined && !isUserPoolId(given))
    throw new CliError(
      `--user-pool-id must look like us-east-1_AbCdEf123, got ${JSON.stringify(given.slice(0, 60))}`,
      EXIT.USAGE,
    );
  if (!values.prod && PRIVATE_STAGES.has(stage))
    throw new CliError(
      `the ${stage} database is private: open the tunnel (npm run db -- tunnel --stage ${stage}) and run restore with --prod`,
      EXIT.USAGE,
    );
  const { connection, local } = values.prod
    ? { connection: connectionUrlFromEnv(env, true), local: undefined }
    : await connectionOrLocalStack(env);
  if (local !== undefined) output.err(`users: using the local stack from ${local.file}`);
  const userPoolId =
    given ??
    local?.info.userPoolId ??
    (await stackOutput(
      deps.cloudFormation ?? awsClient(CloudFormationClient),
      stackName(stage, 'Auth'),
      'UserPoolId',
      '--user-pool-id ID',
    ));
  const cognito =
    deps.cognito ?? (local === undefined ? awsClient(CognitoIdentityProviderClient) : localCognito(local));
  // Without the person in the pool the next prune would only erase them again: the tombstone stays.
  if ((await findBySub(cognito, userPoolId, sub)) === undefined)
    throw new CliError(
      `the pool ${userPoolId} has no user with sub ${sub}: not restored, the tombstone stays`,
      EXIT.REFUSED,
    );
  const db = await openClient(connection, {
    connectTimeoutMs: deps.connectTimeoutMs ?? 5000,
    statementTimeoutMs: 30_000,
  });
  try {
    const store = postgresReconcileStore(db);
    // The database must be kept in step with this pool, or the pool's word says nothing about its rows.
    await store.bindPool(userPoolId, { dryRun: true }).catch((error: unknown) => {
      if (errorCode(error) === SQLSTATE.poolMismatch)
        throw new CliError(
          `${connection.redacted} is kept in step with another user pool than ${userPoolId}: not restored`,
          EXIT.REFUSED,
        );
      throw error;
    });
    const outcome = await store.restore(sub);
    output.out(
      outcome === 'restored'
        ? `restored ${sub}: tombstone removed; the next reconcile writes the user back from ${userPoolId}`
        : `${sub} has no tombstone: nothing to restore`,
    );
    return EXIT.OK;
  } finally {
    await db.end().catch(() => undefined);
  }
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
    if (argv[0] === 'restore') return await restore(argv.slice(1), env, deps, output);
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
    const maxPrune = parseMaxPrune(values['max-prune']);
    const stage = stageOf(values);
    const given = values['user-pool-id'];
    if (given !== undefined && !isUserPoolId(given)) {
      throw new CliError(
        `--user-pool-id must look like us-east-1_AbCdEf123, got ${JSON.stringify(given.slice(0, 60))}`,
        EXIT.USAGE,
      );
    }
    const cloudFormation = () => deps.cloudFormation ?? awsClient(CloudFormationClient);

    if (values.prod && values.remote)
      throw new CliError(
        '--prod runs here through PROD_CONNECTION_URL; --remote runs the deployed function: choose one',
        EXIT.USAGE,
      );
    if (!values.prod && (values.remote || PRIVATE_STAGES.has(stage))) {
      if (maxPrune !== undefined)
        throw new CliError(
          'the deployed function takes its limit from RECONCILE_MAX_PRUNE (-c reconcileMaxPrune=N); for one run, use --max-prune here with --prod',
          EXIT.USAGE,
        );
      if (given !== undefined || values.rate !== undefined) {
        throw new CliError(
          'the deployed function reconciles its own pool at its own RECONCILE_RATE: drop --user-pool-id and --rate',
          EXIT.USAGE,
        );
      }
      const functionName = await stageFunctionName(cloudFormation(), stage, 'ReconcileFunctionName');
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
      return exitFor(report, output);
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
        { mode: 'start', prune, dryRun, erasurePolicy, userPoolId, ...(maxPrune !== undefined ? { maxPrune } : {}) },
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
    return exitFor(report, output, userPoolId);
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
