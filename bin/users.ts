#!/usr/bin/env -S npx tsx
// `npm run users -- reconcile`: puts confirmed Cognito users that never reached public.users into it (users an
// administrator or a federated sign-in created, which fire no post-confirmation trigger, and users whose
// trigger failed), with the trigger's own mapping and upsert.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CognitoIdentityProviderClient, paginateListUsers, type UserType } from '@aws-sdk/client-cognito-identity-provider';
import type { Client } from 'pg';
import { isUserPoolId } from '../lambdas/cognito/ids';
import { attributeRecord, SYNCED_STATUSES } from '../lambdas/cognito/pool-user';
import { errorCode, isConnectionError } from '../lambdas/postgres/error-codes';
import { InvalidEventError } from '../lambdas/runtime/errors';
import { upsertUser } from '../lambdas/users/postgres/postgres-users';
import { userFromAttributes } from '../lambdas/users/user';
import { awsClient, checkStage, stackName, stackOutput } from './cli/aws';
import { CliError, EXIT, connectionUrlFromEnv, describeFailure, parseSubcommand, processOutput, runMain, type Output } from './cli/common';
import { openClient } from './cli/postgres';

const USAGE = `usage: npm run users -- reconcile [--user-pool-id ID] [--stage dev] [--prod] [--dry-run] [--progress-every N]
  --user-pool-id ID   the pool (default: output UserPoolId of Cruddur-<stage>-Auth)
  --prod              write to PROD_CONNECTION_URL instead of CONNECTION_URL
  --dry-run           write nothing; count who would be inserted`;

const OPTIONS = {
  'user-pool-id': { type: 'string' },
  stage: { type: 'string', default: 'dev' },
  prod: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  'progress-every': { type: 'string', default: '500' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** ListUsers' largest page. */
const PAGE_SIZE = 60;

export interface UsersDeps {
  readonly output?: Output;
  readonly cognito?: CognitoIdentityProviderClient;
  readonly cloudFormation?: CloudFormationClient;
  readonly connectTimeoutMs?: number;
}

export interface ReconcileCounts {
  scanned: number;
  inserted: number;
  updated: number;
  alreadyPresent: number;
  /** Users a dry run would have inserted. */
  wouldInsert: number;
  skipped: Map<string, number>;
}

function newCounts(): ReconcileCounts {
  return { scanned: 0, inserted: 0, updated: 0, alreadyPresent: 0, wouldInsert: 0, skipped: new Map() };
}

/** Why a user is skipped, naming a field or a status and never a value; undefined when the user is eligible. */
function skipReason(user: UserType): string | undefined {
  const status = user.UserStatus ?? 'UNKNOWN';
  if (!SYNCED_STATUSES.has(status)) return `not confirmed (${status})`;
  return undefined;
}

function summary(counts: ReconcileCounts, dryRun: boolean): string[] {
  const lines: [string, number][] = [
    ['scanned', counts.scanned],
    ...(dryRun
      ? ([['would insert', counts.wouldInsert]] as [string, number][])
      : ([
          ['inserted', counts.inserted],
          ['updated', counts.updated],
        ] as [string, number][])),
    ['already present', counts.alreadyPresent],
    ['skipped', [...counts.skipped.values()].reduce((sum, n) => sum + n, 0)],
  ];
  const out = lines.map(([name, value]) => `${name.padEnd(16)}${value}`);
  for (const [reason, n] of [...counts.skipped.entries()].sort()) out.push(`  ${reason}: ${n}`);
  return out;
}

async function reconcile(
  cognito: CognitoIdentityProviderClient,
  db: Client,
  userPoolId: string,
  options: { dryRun: boolean; progressEvery: number; output: Output },
  counts: ReconcileCounts,
): Promise<void> {
  const skip = (reason: string) => counts.skipped.set(reason, (counts.skipped.get(reason) ?? 0) + 1);
  let page = 0;
  for await (const result of paginateListUsers({ client: cognito, pageSize: PAGE_SIZE }, { UserPoolId: userPoolId })) {
    page += 1;
    for (const cognitoUser of result.Users ?? []) {
      counts.scanned += 1;
      if (counts.scanned % options.progressEvery === 0) {
        options.output.err(`users: ${counts.scanned} scanned (page ${page}), ${counts.inserted + counts.wouldInsert} new so far`);
      }
      const reason = skipReason(cognitoUser);
      if (reason) {
        skip(reason);
        continue;
      }
      let user;
      try {
        user = userFromAttributes(attributeRecord(cognitoUser.Attributes), 'Attributes');
      } catch (error) {
        if (!(error instanceof InvalidEventError)) throw error;
        skip(`invalid ${error.field}`);
        continue;
      }
      if (options.dryRun) {
        const { rows } = await db.query('SELECT 1 FROM public.users WHERE cognito_user_id = $1', [user.cognitoUserId]);
        if (rows.length > 0) counts.alreadyPresent += 1;
        else counts.wouldInsert += 1;
        continue;
      }
      const { outcome } = await upsertUser(db, user);
      if (outcome === 'inserted') counts.inserted += 1;
      else if (outcome === 'updated') counts.updated += 1;
      else counts.alreadyPresent += 1;
    }
  }
}

const SQLSTATE_PATTERN = /^[0-9A-Z]{5}$/;

function describeUsersFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof Error && error.name === 'ResourceNotFoundException') {
    return { message: 'the user pool does not exist in this account and region (check AWS_REGION and --user-pool-id)', exitCode: EXIT.CONFIG };
  }
  const code = error instanceof Error ? errorCode(error) : undefined;
  if (code !== undefined && SQLSTATE_PATTERN.test(code) && !isConnectionError(error)) {
    // A statement error's message can quote the row's values, which here are people's emails and names.
    return { message: `the database rejected a statement (SQLSTATE ${code}); message withheld because it may quote user data`, exitCode: EXIT.FAILURE };
  }
  return describeFailure(error);
}

function parseProgressEvery(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new CliError(`--progress-every must be a whole number of at least 1, got ${JSON.stringify(value.slice(0, 20))}`, EXIT.USAGE);
  return Number(value);
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, deps: UsersDeps = {}): Promise<number> {
  const output = deps.output ?? processOutput;
  let counts: ReconcileCounts | undefined;
  let dryRun = false;
  try {
    const { values, command } = parseSubcommand(argv, OPTIONS, USAGE);
    if (values.help) {
      output.out(USAGE);
      return EXIT.OK;
    }
    if (command !== 'reconcile') {
      throw new CliError(`${command === undefined ? 'no command given' : `unknown command ${JSON.stringify(command.slice(0, 40))}`}\n${USAGE}`, EXIT.USAGE);
    }
    dryRun = values['dry-run'];
    const progressEvery = parseProgressEvery(values['progress-every']);
    const stage = checkStage(values.stage);
    const given = values['user-pool-id'];
    if (given !== undefined && !isUserPoolId(given)) {
      throw new CliError(`--user-pool-id must look like us-east-1_AbCdEf123, got ${JSON.stringify(given.slice(0, 60))}`, EXIT.USAGE);
    }
    // Configuration first: a missing URL should not wait for AWS.
    const connection = connectionUrlFromEnv(env, values.prod);
    const userPoolId =
      given ?? (await stackOutput(deps.cloudFormation ?? awsClient(CloudFormationClient), stackName(stage, 'Auth'), 'UserPoolId', '--user-pool-id ID'));
    const cognito = deps.cognito ?? awsClient(CognitoIdentityProviderClient);
    const db = await openClient(connection, { connectTimeoutMs: deps.connectTimeoutMs ?? 5000, statementTimeoutMs: 10_000 });
    try {
      output.err(`users: reconciling ${userPoolId} into ${connection.redacted}${dryRun ? ' (dry run: nothing is written)' : ''}`);
      counts = newCounts();
      await reconcile(cognito, db, userPoolId, { dryRun, progressEvery, output }, counts);
    } finally {
      await db.end().catch(() => undefined);
    }
    for (const line of summary(counts, dryRun)) output.out(line);
    return EXIT.OK;
  } catch (error) {
    if (counts) {
      // Each user is its own statement, so what was written stays written and a rerun picks up the rest.
      output.err('users: stopped early; counts so far:');
      for (const line of summary(counts, dryRun)) output.err(`  ${line}`);
    }
    const failure = describeUsersFailure(error);
    output.err(`users: ${failure.message}`);
    return failure.exitCode;
  }
}

if (require.main === module) runMain('users', () => main(process.argv.slice(2)));
