// `npm run users -- export <sub>`: everything the database holds about one person, as one JSON document on
// stdout (export.user_data, sql/functions/export/user_data.sql). Here against CONNECTION_URL (or the local
// stack's database, or PROD_CONNECTION_URL with --prod), or, for a stage whose database is private
// (`--stage prod`, `--stage dev --remote`), through that stage's deployed export function. Only the sub ever
// appears on stderr: the document goes to stdout and nowhere else.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { checkSub, InvalidSubError, type ExportResult, type UserDataDocument } from '../../lambdas/export/core';
import { postgresExportStore } from '../../lambdas/export/postgres-store';
import { errorCode, isConnectionError } from '../../lambdas/postgres/error-codes';
import { isRecord } from '../../lambdas/runtime/records';
import { awsClient, checkStage } from './aws';
import {
  CliError,
  EXIT,
  connectionUrlFromEnv,
  describeFailure,
  helpExit,
  parseSubcommand,
  processOutput,
  type Output,
} from './common';
import { invokeDeployed, stageFunctionName } from './deployed-function';
import { connectionOrLocalStack } from './local-stack';
import { checkProductionTls, openClient } from './postgres';

/** sysexits.h EX_NOUSER: the database knows no user with that sub. */
export const EXIT_NO_USER = 67;

export const EXPORT_USAGE = `usage: npm run users -- export <sub> [--stage dev] [--prod] [--remote]
  prints everything the database holds about the person with this sub (their row, groups, activities, and
  the erasure record if any) as one JSON document on stdout; a sub the database does not know exits ${EXIT_NO_USER}
  --prod              read here through PROD_CONNECTION_URL instead of CONNECTION_URL
  --stage prod        run the stage's deployed export function (its database is private)
  --remote            the same for any other stage (--stage dev --remote)`;

/** The stack output `--stage` finds the deployed export function by (lib/constructs/export-function.ts). */
export const EXPORT_FUNCTION_OUTPUT = 'ExportFunctionName';

const OPTIONS = {
  stage: { type: 'string', default: 'dev' },
  prod: { type: 'boolean', default: false },
  remote: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Stages whose database no operator machine reaches: the export there always runs as the deployed function. */
const PRIVATE_STAGES = new Set(['prod']);

export interface ExportCommandDeps {
  readonly output?: Output;
  readonly cloudFormation?: CloudFormationClient;
  readonly lambda?: LambdaClient;
  readonly connectTimeoutMs?: number;
}

/** Invokes the stage's export function and checks that its answer is an export of `sub`. */
async function invokeRemote(lambda: LambdaClient, functionName: string, sub: string): Promise<ExportResult> {
  const payload = await invokeDeployed(lambda, functionName, 'the export function', { sub });
  if (
    !isRecord(payload) ||
    payload.sub !== sub ||
    !(payload.outcome === 'not_found' || (payload.outcome === 'exported' && isRecord(payload.document)))
  )
    throw new CliError('the export function answered with something that is not an export', EXIT.FAILURE);
  return payload as unknown as ExportResult;
}

async function exportHere(
  sub: string,
  prod: boolean,
  env: NodeJS.ProcessEnv,
  deps: ExportCommandDeps,
  output: Output,
): Promise<UserDataDocument | null> {
  let connection;
  if (prod) {
    connection = connectionUrlFromEnv(env, true);
    checkProductionTls(connection, 'PROD_CONNECTION_URL');
  } else {
    const found = await connectionOrLocalStack(env);
    connection = found.connection;
    if (found.local !== undefined) output.err(`users: using the local stack from ${found.local.file}`);
  }
  // One statement: the export role's own budget.
  const db = await openClient(connection, {
    connectTimeoutMs: deps.connectTimeoutMs ?? 5000,
    statementTimeoutMs: 10_000,
  });
  try {
    return await postgresExportStore(db).userData(sub);
  } finally {
    await db.end().catch(() => undefined);
  }
}

function describeExportFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof InvalidSubError) return { message: error.message, exitCode: EXIT.USAGE };
  const code = error instanceof Error ? errorCode(error) : undefined;
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code) && !isConnectionError(error)) {
    return {
      message: `the database refused the export (SQLSTATE ${code}); message withheld because it may quote user data`,
      exitCode: EXIT.FAILURE,
    };
  }
  return describeFailure(error);
}

/** `users export`: `argv` is what follows the word `export`. */
export async function exportCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  deps: ExportCommandDeps = {},
): Promise<number> {
  const output = deps.output ?? processOutput;
  try {
    const { values, command: given } = parseSubcommand(argv, OPTIONS, EXPORT_USAGE);
    const help = helpExit(values, EXPORT_USAGE, output);
    if (help !== undefined) return help;
    if (given === undefined) throw new CliError(`no sub given\n${EXPORT_USAGE}`, EXIT.USAGE);
    const sub = checkSub(given);
    const stage = checkStage(values.stage);

    let document: UserDataDocument | null;
    if (values.remote || PRIVATE_STAGES.has(stage)) {
      if (values.prod)
        throw new CliError(
          `--prod reads here through PROD_CONNECTION_URL; --stage ${stage} runs the deployed function: choose one`,
          EXIT.USAGE,
        );
      const functionName = await stageFunctionName(
        deps.cloudFormation ?? awsClient(CloudFormationClient),
        stage,
        EXPORT_FUNCTION_OUTPUT,
      );
      output.err(`users: exporting ${sub} through ${functionName}`);
      const result = await invokeRemote(deps.lambda ?? awsClient(LambdaClient), functionName, sub);
      document = result.outcome === 'exported' ? result.document : null;
    } else {
      document = await exportHere(sub, values.prod, env, deps, output);
    }
    if (document === null) {
      output.err(`users: no user with sub ${sub}`);
      return EXIT_NO_USER;
    }
    output.out(JSON.stringify(document, null, 2));
    return EXIT.OK;
  } catch (error) {
    const failure = describeExportFailure(error);
    output.err(`users: ${failure.message}`);
    return failure.exitCode;
  }
}
